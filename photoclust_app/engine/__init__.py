"""The child process that runs heavy work (indexing, clustering) for the window. Qt-free."""
