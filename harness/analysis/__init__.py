"""What researchers ask of many runs: pandas frames, transfer tables and merge gain, the regression gate, the
leaderboard, studies and paired statistics. Reads runs only through harness.records."""
