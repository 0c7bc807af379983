import sys

from vsr_latent.cli import main

sys.exit(main())
