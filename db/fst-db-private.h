#pragma once

#include <sqlite3.h>

#include "fst-db.h"

G_BEGIN_DECLS

/* what db/ shares between its files and nobody else sees */

G_DEFINE_AUTOPTR_CLEANUP_FUNC(sqlite3, sqlite3_close)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sqlite3_stmt, sqlite3_finalize)

sqlite3 *
fst_db_connect_read_only(const gchar *path, GError **error);

G_END_DECLS
