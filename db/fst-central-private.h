/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <libpq-fe.h>
#include <sqlite3.h>

#include "fst-central.h"
#include "fst-libpq-common.h"

G_BEGIN_DECLS

/*
 * What the files of the central registry share: the connection and its
 * statement helper (fst-central.c).
 */

/* one connection, used by one thread at a time (the sync worker and the
 * pipeline's reservations each have their own) */
struct _FstCentral {
	PGconn *conn;            /* (owned) */
	gchar *server;           /* (owned): host:port/dbname, for messages; never a password */
	gboolean sync_prepared;  /* the sync's statements are prepared on this connection */
	gchar *sync_station;     /* (owned) (nullable): the station the sync registered */
	gchar *sync_database_id; /* (owned) (nullable): its database id */
	gint64 sync_station_id;  /* its central id, 0 before */
	gboolean retryable;      /* the last statement that failed had its transaction
	                          * rolled back for a deadlock or a serialization
	                          * failure: the same transaction can simply run again */
};

/* how many times a transaction the server rolled back for a deadlock or a
 * serialization failure is run in all */
#define FST_CENTRAL_TRIES 3

gboolean _fst_central_result_retryable(const PGresult *res);

PGresult *fst_central_exec(FstCentral *self,
                           const gchar *sql,
                           gint n_params,
                           const gchar *const *values,
                           const gint *lengths,
                           const gint *formats,
                           const gchar *what,
                           GError **error);
gboolean
fst_central_exec_simple(FstCentral *self, const gchar *sql, const gchar *what, GError **error);
gint64 fst_central_get_int(const PGresult *res, gint row, gint col);
gchar *fst_central_get_text(const PGresult *res, gint row, gint col);
GBytes *fst_central_get_bytea(const PGresult *res, gint row, gint col);

gboolean
fst_central_migrate_to(FstCentral *self, guint target, guint *from, guint *to, GError **error);

/* the sync's connection to the station database for its marks (fst-central-sync.c) */
sqlite3 *_fst_central_open_marks(const gchar *path, GError **error);

/* makes one element of a list from row @row of @res */
typedef gpointer (*FstCentralRowFunc)(const PGresult *res, gint row);
GPtrArray *fst_central_exec_rows(FstCentral *self,
                                 const gchar *sql,
                                 gint n_params,
                                 const gchar *const *values,
                                 FstCentralRowFunc row_func,
                                 GDestroyNotify free_func,
                                 const gchar *what,
                                 GError **error);

G_END_DECLS
