import sys

from techsapo_operator import cli

sys.exit(cli.main())
