"""Own data: import a .zip of class folders, an .npz, or a folder on the server as a new data source.

    datasets.py     the import itself: analyse (in memory, nothing written), commit, list, remove
    archive.py      read a zip or a server folder into memory, safely and within limits
    imagefolder.py  class folders of image files -> images and labels
    npzsource.py    an .npz of arrays -> images and labels
    convert.py      any image -> an MNIST-style 28x28 digit
    analysis.py     the Analysis (split, validation report, manifest) and the 5x5 preview

    __main__.py     the command line: python -m mnist_core.own_data --help
"""
