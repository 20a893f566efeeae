/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Workspace defaults for the headless station. They live in the `[defaults]`
 * group of WORKSPACE/station.conf (a GKeyFile; fst-station.c owns the
 * `[station]` group of the same file):
 *
 *   [defaults]
 *   profile=aws-iot-ecc          profile name, or a path to a profile file
 *   lot=LOT-2026-11-A            production lot recorded with each run
 *   ports=/dev/ttyUSB0;/dev/ttyUSB1   ports for provision/watch (';'-separated)
 *   baud=115200                  line rate in bit/s, 1200 to 4000000
 *
 * Every key is optional. Options on the command line win over these. Unknown
 * keys are kept untouched by fst_settings_save(), so the file can be edited by
 * hand and by `fleetstation init`.
 */

#define G_LOG_DOMAIN "FstSettings"

#include "fst-settings.h"

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "fst-error.h"
#include "fst-file.h"

#define FST_SETTINGS_GROUP "defaults"
#define FST_SETTINGS_BAUD_MIN 1200
#define FST_SETTINGS_BAUD_MAX 4000000

/**
 * fst_settings_fill:
 * @self: the workspace defaults
 * @profile: (inout): the --profile option, filled from the defaults when %NULL
 * @lot: (inout): the --lot option, likewise
 * @baud: (inout): the --baud option, filled when 0 (with the built-in default
 *   when the workspace has none)
 * @ports: (inout) (nullable): the --port options, filled when %NULL; pass
 *   %NULL when the command chose its ports otherwise (--all-ports)
 *
 * Options given on the command line win over the workspace defaults: the one
 * place where the provisioning commands apply that rule.
 */
void
fst_settings_fill(const FstSettings *self, gchar **profile, gchar **lot, gint *baud, gchar ***ports)
{
	if (*profile == NULL)
		*profile = g_strdup(self->profile);
	if (*lot == NULL)
		*lot = g_strdup(self->lot);
	if (*baud == 0)
		*baud = self->baud_rate != 0 ? (gint)self->baud_rate : FST_SETTINGS_DEFAULT_BAUD;
	if (ports != NULL && *ports == NULL && self->ports != NULL)
		*ports = g_strdupv(self->ports);
}

/**
 * fst_settings_free:
 * @self: (nullable): settings
 */
void
fst_settings_free(FstSettings *self)
{
	if (self == NULL)
		return;
	g_free(self->profile);
	g_free(self->lot);
	g_strfreev(self->ports);
	g_free(self);
}

static gchar *
fst_settings_conf_path(const gchar *workspace)
{
	return g_build_filename(workspace, "station.conf", NULL);
}

/* TRUE when @a and @b name the same directory */
static gboolean
fst_settings_same_dir(const gchar *a, const gchar *b)
{
	GStatBuf sa;
	GStatBuf sb;
	return g_stat(a, &sa) == 0 && g_stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/**
 * fst_settings_check_workspace:
 * @workspace: the workspace a command was given (or its default)
 * @error: (nullable): return location
 *
 * Checks that @workspace is one: `fleetstation init` (or `demo`) made its
 * `station.conf`, or it holds a `station.db`. The one message for a command
 * run where there is no workspace names the command that makes one, the
 * ways to name another, and, when the current directory is a workspace
 * other than @workspace, `--workspace .`.
 *
 * Returns: %TRUE when @workspace is a workspace; %FST_ERROR_CONFIG otherwise
 */
gboolean
fst_settings_check_workspace(const gchar *workspace, GError **error)
{
	g_autofree gchar *conf = fst_settings_conf_path(workspace);
	g_autofree gchar *db = g_build_filename(workspace, "station.db", NULL);
	g_autofree gchar *cwd = NULL;
	g_autofree gchar *here = NULL;
	gboolean cwd_is_one;

	if (g_file_test(conf, G_FILE_TEST_EXISTS) || g_file_test(db, G_FILE_TEST_EXISTS))
		return TRUE;
	cwd = g_get_current_dir();
	here = fst_settings_conf_path(cwd);
	cwd_is_one =
	    g_file_test(here, G_FILE_TEST_IS_REGULAR) && !fst_settings_same_dir(cwd, workspace);
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_CONFIG,
	            "%s is not a workspace (no station.conf): make it one with `fleetstation "
	            "init --workspace %s`, or give yours with --workspace or "
	            "FLEETSTATION_WORKSPACE%s",
	            workspace,
	            workspace,
	            cwd_is_one ? "; the current directory is one: add --workspace ." : "");
	return FALSE;
}

/* an empty string means "unset", like an absent key */
static gchar *
fst_settings_get_string(GKeyFile *kf, const gchar *key)
{
	g_autofree gchar *value = g_key_file_get_string(kf, FST_SETTINGS_GROUP, key, NULL);
	if (value == NULL)
		return NULL;
	g_strstrip(value);
	if (value[0] == '\0')
		return NULL;
	return g_steal_pointer(&value);
}

/**
 * fst_settings_load:
 * @workspace: an initialised workspace
 * @error: (nullable): return location
 *
 * Reads the `[defaults]` group of `WORKSPACE/station.conf`. A workspace
 * without the group has no defaults, which is not an error.
 *
 * Returns: (transfer full): the settings, or %NULL with %FST_ERROR_CONFIG when
 * the file is missing or a value is malformed (the message names the file,
 * the key and what is allowed)
 */
FstSettings *
fst_settings_load(const gchar *workspace, GError **error)
{
	g_autofree gchar *path = fst_settings_conf_path(workspace);
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(FstSettings) self = g_new0(FstSettings, 1);
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *baud = NULL;
	g_autofree gchar *ports = NULL;

	if (!fst_settings_check_workspace(workspace, error))
		return NULL;
	if (!fst_file_load_key_file(
	        kf, path, FST_FILE_MAX_CONF, G_KEY_FILE_KEEP_COMMENTS, &error_local)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "cannot read %s: %s: run `fleetstation init --workspace %s` first",
		            path,
		            error_local->message,
		            workspace);
		return NULL;
	}
	self->profile = fst_settings_get_string(kf, "profile");
	self->lot = fst_settings_get_string(kf, "lot");
	ports = fst_settings_get_string(kf, "ports");
	if (ports != NULL) {
		g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func(g_free);
		g_auto(GStrv) parts = g_strsplit(ports, ";", -1);
		for (guint i = 0; parts[i] != NULL; i++) {
			g_strstrip(parts[i]);
			if (parts[i][0] != '\0')
				g_ptr_array_add(list, g_strdup(parts[i]));
		}
		g_ptr_array_add(list, NULL);
		self->ports = (gchar **)g_ptr_array_free(g_steal_pointer(&list), FALSE);
	}
	baud = fst_settings_get_string(kf, "baud");
	if (baud != NULL) {
		guint64 value = 0;
		if (!g_ascii_string_to_unsigned(
		        baud, 10, FST_SETTINGS_BAUD_MIN, FST_SETTINGS_BAUD_MAX, &value, NULL)) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CONFIG,
			            "%s: [defaults] baud=%s is not a line rate from %d to %d bit/s",
			            path,
			            baud,
			            FST_SETTINGS_BAUD_MIN,
			            FST_SETTINGS_BAUD_MAX);
			return NULL;
		}
		self->baud_rate = (guint)value;
	}
	return g_steal_pointer(&self);
}

/**
 * fst_settings_save:
 * @self: the settings; %NULL members remove their key
 * @workspace: an initialised workspace
 * @error: (nullable): return location
 *
 * Writes the `[defaults]` group into `WORKSPACE/station.conf`, keeping every
 * other group, key and comment of the file.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_settings_save(const FstSettings *self, const gchar *workspace, GError **error)
{
	g_autofree gchar *path = fst_settings_conf_path(workspace);
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autofree gchar *data = NULL;

	if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_KEEP_COMMENTS, error)) {
		fst_error_convert_gio(error);
		g_prefix_error(error, "reading %s: ", path);
		return FALSE;
	}
	(void)g_key_file_remove_group(kf, FST_SETTINGS_GROUP, NULL);
	g_key_file_set_comment(kf,
	                       FST_SETTINGS_GROUP,
	                       NULL,
	                       " defaults for provision, batch and watch; options override them",
	                       NULL);
	if (self->profile != NULL)
		g_key_file_set_string(kf, FST_SETTINGS_GROUP, "profile", self->profile);
	if (self->lot != NULL)
		g_key_file_set_string(kf, FST_SETTINGS_GROUP, "lot", self->lot);
	if (self->ports != NULL && self->ports[0] != NULL) {
		g_autofree gchar *joined = g_strjoinv(";", self->ports);
		g_key_file_set_string(kf, FST_SETTINGS_GROUP, "ports", joined);
	}
	if (self->baud_rate != 0)
		g_key_file_set_integer(kf, FST_SETTINGS_GROUP, "baud", (gint)self->baud_rate);
	data = g_key_file_to_data(kf, NULL, NULL);
	if (!g_file_set_contents_full(
	        path, data, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error)) {
		fst_error_convert_gio(error);
		g_prefix_error(error, "writing %s: ", path);
		return FALSE;
	}
	return TRUE;
}

/**
 * fst_settings_to_string:
 * @self: the settings
 *
 * Returns: (transfer full): a one-line human summary, for `init` and `--verbose`
 */
gchar *
fst_settings_to_string(const FstSettings *self)
{
	g_autofree gchar *ports = self->ports != NULL ? g_strjoinv(",", self->ports) : NULL;
	return g_strdup_printf("profile %s, lot %s, ports %s, baud %u",
	                       self->profile != NULL ? self->profile : "-",
	                       self->lot != NULL ? self->lot : "-",
	                       ports != NULL && ports[0] != '\0' ? ports : "-",
	                       self->baud_rate != 0 ? self->baud_rate : FST_SETTINGS_DEFAULT_BAUD);
}
