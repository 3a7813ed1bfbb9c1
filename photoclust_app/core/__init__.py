"""Qt-free core: scan, decode, embed, library, cluster, layout, organize, export, bench."""
