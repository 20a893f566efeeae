/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

gchar *fst_file_read_bounded(const gchar *path, gsize max_size, gsize *len, GError **error);

gboolean fst_file_load_key_file(
    GKeyFile *kf, const gchar *path, gsize max_size, GKeyFileFlags flags, GError **error);

/* the bounds of the small configuration files a user edits */
#define FST_FILE_MAX_CONF (64 * 1024)

gboolean
fst_file_set_contents_private(const gchar *path, const guint8 *data, gsize len, GError **error);

void fst_file_raise_open_limit(void);

G_END_DECLS
