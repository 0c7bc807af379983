import sys

from vsr_latent.reproduce.cli import main

sys.exit(main())
