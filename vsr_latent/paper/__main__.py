import sys

from vsr_latent.paper.runner import main

sys.exit(main())
