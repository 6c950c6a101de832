"""The one default seed: generation, few-shot draws, LIMIT samples and paired bootstraps all use it unless a run
says otherwise (and every result records the seed it used)."""

DEFAULT_SEED = 1234
