/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* cleanup functions for the SQLite types, in one place for db/ and its tests */

#include <glib.h>
#include <sqlite3.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(sqlite3, sqlite3_close)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sqlite3_stmt, sqlite3_finalize)
