from harness.cli.main import main
from harness.cli.process_exit import end_process

end_process(main())
