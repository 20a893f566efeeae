/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* the line rate when neither an option nor the workspace says otherwise */
#define FST_SETTINGS_DEFAULT_BAUD 115200

/**
 * FstSettings:
 * @profile: (nullable): the default profile name or file
 * @lot: (nullable): the default production lot
 * @ports: (nullable) (array zero-terminated=1): the default ports
 * @baud_rate: the default line rate, 0 when unset
 *
 * The operator's defaults for a workspace: the `[defaults]` group of
 * `WORKSPACE/station.conf` (see fst-settings.c). Command-line options override
 * each of them.
 */
typedef struct {
	gchar *profile;
	gchar *lot;
	gchar **ports;
	guint baud_rate;
} FstSettings;

gboolean fst_settings_check_workspace(const gchar *workspace, GError **error);
FstSettings *fst_settings_load(const gchar *workspace, GError **error);
gboolean fst_settings_save(const FstSettings *self, const gchar *workspace, GError **error);
gchar *fst_settings_to_string(const FstSettings *self);
void fst_settings_fill(
    const FstSettings *self, gchar **profile, gchar **lot, gint *baud, gchar ***ports);
void fst_settings_free(FstSettings *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstSettings, fst_settings_free)

G_END_DECLS
