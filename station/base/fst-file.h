/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>
#include <stdio.h>

G_BEGIN_DECLS

gchar *fst_file_read_bounded(const gchar *path, gsize max_size, gsize *len, GError **error);

gboolean fst_file_load_key_file(
    GKeyFile *kf, const gchar *path, gsize max_size, GKeyFileFlags flags, GError **error);

/* the bounds of the small configuration files a user edits */
#define FST_FILE_MAX_CONF (64 * 1024)

gboolean
fst_file_set_contents_private(const gchar *path, const guint8 *data, gsize len, GError **error);

void fst_file_raise_open_limit(void);

gchar *fst_file_new_temp(const gchar *path, gint mode, gint *fd, GError **error);
gboolean fst_file_link_new(const gchar *tmp, const gchar *path, GError **error);

typedef struct _FstFileOut FstFileOut;

FstFileOut *fst_file_out_new(const gchar *path, gint mode, GError **error);
FILE *fst_file_out_get_stream(FstFileOut *self);
gboolean fst_file_out_commit(FstFileOut *self, GError **error);
void fst_file_out_free(FstFileOut *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstFileOut, fst_file_out_free)

gboolean
fst_file_write_new(const gchar *path, const void *data, gsize len, gint mode, GError **error);

G_END_DECLS
