"""A Beam plugin (`--beam_plugins`, `clients.workers_use_emulators`): a worker process that imports it talks to
the emulators its inherited variables name (`clients.use_emulators`), as the launching process does."""

from beam_api_pipeline.gcp.clients import use_emulators

use_emulators()
