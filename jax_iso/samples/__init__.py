"""The real EM sample shipped with jax_iso (see README.md in this folder for its source and licence)."""
import pathlib

FIBSEM_10NM = pathlib.Path(__file__).with_name("flyem_medulla_fibsem_10nm_iso_160.tif")
"""160^3 uint8 crop of FlyEM FIB-SEM (Drosophila medulla), 10 nm isotropic, ImageJ TIFF with spacing."""
