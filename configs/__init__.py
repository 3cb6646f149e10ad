"""Method configs (ml_collections): one file per method; `get_config()`'s docstring gives the command, the
hardware and the expected result. `jax-iso train --config=configs/unet.py` loads a file by path; the library
(`jax-iso reconstruct --method=unet`) loads the same files by name."""
