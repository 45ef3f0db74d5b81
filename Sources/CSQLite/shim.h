// SQLite (Debian: libsqlite3-dev). Only ArchSweep imports this module.
#include <sqlite3.h>
