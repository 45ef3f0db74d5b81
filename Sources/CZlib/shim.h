// zlib (Debian: zlib1g-dev), for gzipped IDX files. Only ArchData imports this module.
#include <zlib.h>
