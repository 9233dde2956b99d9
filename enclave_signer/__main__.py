"""`python -m enclave_signer ...`"""

import sys

from enclave_signer.cli import main

sys.exit(main())
