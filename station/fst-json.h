/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "fst-secret.h"

G_BEGIN_DECLS

gboolean fst_json_take_secret(
    guint8 *text, gsize len, const gchar *member, FstSecret **secret, GError **error);
const gchar *fst_json_get_string(JsonObject *obj, const gchar *name);
gint64 fst_json_get_int(JsonObject *obj, const gchar *name, gint64 fallback);
JsonObject *fst_json_get_object(JsonObject *obj, const gchar *name);
JsonArray *fst_json_get_array(JsonObject *obj, const gchar *name);
JsonObject *fst_json_root_object(JsonParser *parser);

G_END_DECLS
