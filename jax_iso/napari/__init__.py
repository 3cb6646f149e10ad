"""The napari plugin (npe2 manifest `napari.yaml`, installed with `pip install 'jax-iso[napari]'`).

- `reader.py`: opens what jax_iso reads and writes (TIFF, OME-Zarr, zarr, N5, HDF5, precomputed) with the voxel
  size as the layer scale, and an uncertainty map written beside an output as a second layer;
- `widget.py`: a dock widget that runs `jax_iso.jobs.reconstruct` on an image layer in a worker thread;
- `samples.py`: the shipped FIB-SEM sample and its x4 simulation as sample data.
It sits beside `jax_iso.cli` (it imports jobs, io and methods); nothing in jax_iso imports it, and napari loads
its modules only when one of its contributions is used.
"""
