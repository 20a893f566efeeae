/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The station workspace. Layout (created by fst_station_init_workspace()):
 *
 *   WORKSPACE/                mode 0700
 *     station.conf            [station] name=..., organization=..., database-id=...
 *                             (the database-id of station.db, so a lost database
 *                             is noticed rather than silently recreated), 0600
 *     station.db              the SQLite database (db/schema.md), 0600 like its
 *                             -wal and -shm files
 *     station.lock            held (flock) by every process that has the
 *                             workspace open (fst_station_open())
 *     ca/root-ca.pem          the root CA certificate (demo PKI)
 *     ca/root-ca.key          its key, encrypted PKCS#8, 0600
 *     ca/issuing-ca.pem       the issuing CA certificate
 *     ca/issuing-ca.key       its key, encrypted PKCS#8 (scrypt), 0600, or the
 *                             pkcs11: URI of a key in a token (fst-ca-store.c)
 *     ca/retired-issuing-ca-*  issuing CAs `ca renew` replaced (fst-ca-store.c)
 *     ca/passphrase           0600, only when the passphrase was generated
 *                             because FLEETSTATION_CA_PASSPHRASE was unset
 *     trust/                  (optional) roots the user adds to the catalogue,
 *                             e.g. cross-signed Amazon roots (fst-trust.c)
 */

#define G_LOG_DOMAIN "FstStation"
/* F_OFD_SETLK (Linux open file description locks) */
#define _GNU_SOURCE

#include "fst-station.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <glib/gstdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fst-aws-issuer.h"
#include "fst-ca-pkcs11.h"
#include "fst-ca-store.h"
#include "fst-config.h"
#include "fst-crypto.h"
#include "fst-error.h"
#include "fst-report-export.h"
#include "fst-settings.h"
#include "fst-time.h"

struct _FstStation {
	gatomicrefcount ref_count;
	gchar *workspace;         /* (owned) */
	gchar *name;              /* (owned) */
	gint64 id;                /* stations.id */
	FstDb *db;                /* (owned) */
	gchar *operator_name;     /* (owned): who runs it (fst_station_set_operator()) */
	gchar *lot;               /* (owned) (nullable): the lot of this run */
	FstCa *ca;                /* (owned) */
	FstTrustCatalogue *trust; /* (owned) */
	GMutex pool_lock;         /* guards the key pools and @aws_issuer */
	FstKeyPool *key_pool; /* (owned) (nullable): made for the first station-generated profile */
	guint pool_key_types;
	GPtrArray
	    *old_pools; /* (element-type FstKeyPool): superseded, kept for threads using them */
	gint lock_fd;   /* station.lock, held shared while open; -1 when not held */
	FstInteraction *interaction;   /* (owned) (nullable): what it was opened with */
	FstAwsCredentials *aws_issuer; /* (owned) (nullable): checked by
	                                * fst_station_connect_issuer() */
	guint aws_issuer_serial;       /* counts the fst_station_connect_issuer() */
	gboolean aws_refreshing;       /* a lane reads @aws_issuer's keys again */
	GMutex ca_warning_lock;        /* guards @ca_warning and @ca_check_at */
	gchar *ca_warning;             /* (owned) (nullable): the CA's end, as last said */
	gint64 ca_check_at;            /* when fst_station_check_ca_warning() looks again,
	                                * monotonic microseconds */
	GMutex ca_renewed_lock;        /* guards @ca_renewed and @ca_renewed_check_at */
	gboolean ca_renewed;           /* ca/ holds another issuing CA than @ca (`ca renew`) */
	gint64 ca_renewed_check_at;    /* when fst_station_ca_renewed() reads ca/ again,
	                                * monotonic microseconds */
	GMutex in_flight_lock;         /* guards @in_flight */
	GHashTable *in_flight;         /* (owned): uid -> port of the devices whose
	                                * runs are in flight (fst_station_claim_device()) */
};

/* station-made keys kept ready per key type: enough for a gang's next round */
#define FST_STATION_KEY_POOL_DEPTH 4

/**
 * fst_station_default_workspace:
 *
 * Returns: (transfer full): `$XDG_DATA_HOME/fleetstation`
 */
gchar *
fst_station_default_workspace(void)
{
	return g_build_filename(g_get_user_data_dir(), "fleetstation", NULL);
}

/**
 * fst_station_templates_dir:
 *
 * Where profiles and trust roots are read from: `$FST_TEMPLATES_DIR` when set;
 * the source tree when running from the build tree; else the installed copy
 * found relative to the running program (`bin/../share/fleetstation/templates`,
 * so that an installation under any prefix, or moved, finds its own); else the
 * installation prefix the build was configured with.
 *
 * Returns: (transfer none): a directory path
 */
const gchar *
fst_station_templates_dir(void)
{
	static gchar *dir = NULL;
	if (g_once_init_enter(&dir)) {
		const gchar *env = g_getenv("FST_TEMPLATES_DIR");
		g_autofree gchar *exe = g_file_read_link("/proc/self/exe", NULL);
		g_autofree gchar *exe_dir = exe != NULL ? g_path_get_dirname(exe) : NULL;
		g_autofree gchar *relative =
		    exe_dir != NULL ? g_build_filename(exe_dir, FST_BIN_TO_TEMPLATES, NULL) : NULL;
		gchar *result;
		if (env != NULL && env[0] != '\0')
			result = g_strdup(env);
		else if (exe != NULL && g_str_has_prefix(exe, FST_BUILD_DIR "/"))
			result = g_strdup(FST_SOURCE_TEMPLATES_DIR);
		else if (relative != NULL && g_file_test(relative, G_FILE_TEST_IS_DIR))
			result = g_canonicalize_filename(relative, NULL);
		else
			result = g_strdup(FST_INSTALLED_TEMPLATES_DIR);
		g_once_init_leave(&dir, result);
	}
	return dir;
}

static gchar *
fst_station_ca_path(const gchar *workspace, const gchar *file)
{
	return g_build_filename(workspace, "ca", file, NULL);
}

static gboolean
fst_station_mkdir_private(const gchar *path, GError **error)
{
	if (g_mkdir_with_parents(path, 0700) != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_PERMISSION_DENIED,
		            "cannot create %s: %s",
		            path,
		            g_strerror(errno));
		return FALSE;
	}
	return TRUE;
}

/* the workspace folder and its files are the station's alone */
static gboolean
fst_station_tighten(const gchar *path, mode_t mode, GError **error)
{
	GStatBuf st;
	if (g_lstat(path, &st) != 0)
		return TRUE;
	if ((st.st_mode & 0777) == mode)
		return TRUE;
	if (g_chmod(path, mode) != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_PERMISSION_DENIED,
		            "cannot restrict %s to mode %04o: %s",
		            path,
		            (guint)mode,
		            g_strerror(errno));
		return FALSE;
	}
	return TRUE;
}

static gboolean
fst_station_tighten_db_files(const gchar *db_path, GError **error)
{
	const gchar *suffixes[] = {"", "-wal", "-shm", "-journal"};
	for (guint i = 0; i < G_N_ELEMENTS(suffixes); i++) {
		g_autofree gchar *path = g_strconcat(db_path, suffixes[i], NULL);
		if (!fst_station_tighten(path, 0600, error))
			return FALSE;
	}
	return TRUE;
}

/* reads station.conf; a missing file gives an empty key file */
static GKeyFile *
fst_station_load_conf(const gchar *workspace, GError **error)
{
	g_autofree gchar *conf = g_build_filename(workspace, "station.conf", NULL);
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) error_local = NULL;

	if (!g_key_file_load_from_file(kf, conf, G_KEY_FILE_KEEP_COMMENTS, &error_local) &&
	    !g_error_matches(error_local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "cannot read %s: %s",
		            conf,
		            error_local->message);
		return NULL;
	}
	return g_steal_pointer(&kf);
}

static gboolean
fst_station_save_conf(const gchar *workspace, GKeyFile *kf, GError **error)
{
	g_autofree gchar *conf = g_build_filename(workspace, "station.conf", NULL);
	g_autofree gchar *data = g_key_file_to_data(kf, NULL, NULL);
	if (!g_file_set_contents_full(
	        conf, data, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error)) {
		fst_error_convert_gio(error);
		return FALSE;
	}
	return TRUE;
}

/**
 * fst_station_check_database:
 * @workspace: a workspace
 * @error: (nullable): return location
 *
 * Refuses to start on a new, empty database where the workspace had one: when
 * `station.db` is missing or empty and `station.conf` records the
 * `database-id` of the database this workspace was created with (recorded by
 * every open of the database, so also for workspaces older than the record).
 * A new database would forget every certificate the CA issued; the records
 * come back from a `db backup` copy.
 *
 * Returns: %TRUE when the database may be opened (or created);
 *   %FST_ERROR_DATABASE otherwise
 */
gboolean
fst_station_check_database(const gchar *workspace, GError **error)
{
	g_autofree gchar *db_path = g_build_filename(workspace, "station.db", NULL);
	g_autoptr(GKeyFile) kf = NULL;
	g_autofree gchar *database_id = NULL;
	GStatBuf st;

	if (g_stat(db_path, &st) == 0 && st.st_size > 0)
		return TRUE;
	kf = fst_station_load_conf(workspace, error);
	if (kf == NULL)
		return FALSE;
	database_id = g_key_file_get_string(kf, "station", "database-id", NULL);
	if (database_id == NULL)
		return TRUE;
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_DATABASE,
	            "%s is %s, but this workspace's records are in database %s: refusing to "
	            "start on a new empty database, which would forget every certificate the "
	            "CA issued; copy the latest `db backup` of it to %s",
	            db_path,
	            g_file_test(db_path, G_FILE_TEST_EXISTS) ? "empty" : "missing",
	            database_id,
	            db_path);
	return FALSE;
}

/**
 * fst_station_check_records:
 * @workspace: the workspace
 * @error: (nullable): return location
 *
 * Checks, for what reads or adds to the records of a workspace that has
 * them, that @workspace is a workspace (fst_settings_check_workspace()) and
 * that its database is there (fst_station_check_database(), which refuses a
 * lost one).
 *
 * Returns: %TRUE when WORKSPACE/station.db may be opened; %FALSE with
 *   %FST_ERROR_CONFIG or %FST_ERROR_DATABASE
 */
gboolean
fst_station_check_records(const gchar *workspace, GError **error)
{
	g_autofree gchar *path = g_build_filename(workspace, "station.db", NULL);
	if (!fst_settings_check_workspace(workspace, error) ||
	    !fst_station_check_database(workspace, error))
		return FALSE;
	if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "no database at %s: nothing is recorded in workspace %s yet",
		            path,
		            workspace);
		return FALSE;
	}
	return TRUE;
}

/*
 * opens the workspace database: refuses a lost one (fst_station_check_database()),
 * creates a new one 0600 (SQLite gives -wal and -shm the same mode), and records
 * its database-id in station.conf, or checks it matches the one recorded there
 */
static FstDb *
fst_station_open_db(const gchar *workspace, GError **error)
{
	g_autofree gchar *db_path = g_build_filename(workspace, "station.db", NULL);
	g_autoptr(GKeyFile) kf = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autofree gchar *recorded = NULL;
	FstDbStats stats = {0};
	gint fd;

	if (!fst_station_check_database(workspace, error))
		return NULL;
	/* only a new file: closing a descriptor of the database would drop the
	 * locks of this process's open connections to it (fst_db_open()) */
	fd = g_open(db_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 && errno != EEXIST) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "cannot create %s: %s",
		            db_path,
		            g_strerror(errno));
		return NULL;
	}
	if (fd >= 0)
		close(fd);
	if (!fst_station_tighten_db_files(db_path, error))
		return NULL;
	db = fst_db_open(db_path, error);
	if (db == NULL)
		return NULL;
	if (!fst_station_tighten_db_files(db_path, error))
		return NULL;
	if (!fst_db_get_stats(db, &stats, error))
		return NULL;
	kf = fst_station_load_conf(workspace, error);
	if (kf == NULL) {
		fst_db_stats_clear(&stats);
		return NULL;
	}
	recorded = g_key_file_get_string(kf, "station", "database-id", NULL);
	if (recorded != NULL && g_strcmp0(recorded, stats.database_id) != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "%s is database %s, but this workspace's records are in database %s: "
		            "put that database (or its latest `db backup` copy) back in place",
		            db_path,
		            stats.database_id != NULL ? stats.database_id : "(no id)",
		            recorded);
		fst_db_stats_clear(&stats);
		return NULL;
	}
	if (recorded == NULL && stats.database_id != NULL && g_key_file_has_group(kf, "station")) {
		g_key_file_set_string(kf, "station", "database-id", stats.database_id);
		if (!fst_station_save_conf(workspace, kf, error)) {
			fst_db_stats_clear(&stats);
			return NULL;
		}
	}
	fst_db_stats_clear(&stats);
	return g_steal_pointer(&db);
}

/*
 * takes the workspace lock: every process with the workspace open holds it
 * shared; a process that gets it exclusively knows no other one is alive, so
 * devices left in progress belong to a process that died. Returns the fd and
 * sets @alone.
 */
static gint
fst_station_lock(const gchar *workspace, gboolean *alone, GError **error)
{
	g_autofree gchar *path = g_build_filename(workspace, "station.lock", NULL);
	gint fd = g_open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_PERMISSION_DENIED,
		            "cannot open the workspace lock %s: %s",
		            path,
		            g_strerror(errno));
		return -1;
	}
	*alone = flock(fd, LOCK_EX | LOCK_NB) == 0;
	/* from exclusive to shared is not atomic in flock(), but until this process
	 * owns devices nothing is lost if another one starts in between */
	if (flock(fd, LOCK_SH) != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INTERNAL,
		            "cannot lock %s: %s",
		            path,
		            g_strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* what fst_station_open() asks for secrets when its caller gives no interaction */
static GMutex fst_station_interaction_lock;
static FstInteraction *fst_station_interaction = NULL;

/**
 * fst_station_set_default_interaction:
 * @interaction: (nullable): how to ask for CA secrets, or %NULL for the
 *   unattended default (fst_interaction_new())
 *
 * Sets what fst_station_open() and the other workspace operations use to ask
 * for the CA passphrase or PIN when they are given no #FstInteraction: the
 * CLI sets its prompt here once, after parsing its options.
 */
void
fst_station_set_default_interaction(FstInteraction *interaction)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fst_station_interaction_lock);
	g_set_object(&fst_station_interaction, interaction);
}

/* the default interaction, or the unattended one for @workspace */
static FstInteraction *
fst_station_get_interaction(const gchar *workspace, FstInteraction *interaction)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fst_station_interaction_lock);
	if (interaction != NULL)
		return g_object_ref(interaction);
	if (fst_station_interaction != NULL)
		return g_object_ref(fst_station_interaction);
	return fst_interaction_new(workspace);
}

/**
 * fst_station_dup_interaction:
 * @workspace: a workspace
 *
 * Returns: (transfer full): what asks for secrets in this process: the
 *   default interaction (fst_station_set_default_interaction()), or the
 *   unattended one for @workspace
 */
FstInteraction *
fst_station_dup_interaction(const gchar *workspace)
{
	return fst_station_get_interaction(workspace, NULL);
}

/**
 * fst_station_ref_interaction:
 * @self: a station
 *
 * Returns: (transfer full): what asks for secrets for this station: the
 *   interaction it was opened with (fst_station_open_full()), else the
 *   process's default (fst_station_dup_interaction())
 */
FstInteraction *
fst_station_ref_interaction(FstStation *self)
{
	if (self->interaction != NULL)
		return g_object_ref(self->interaction);
	return fst_station_dup_interaction(self->workspace);
}

/**
 * fst_station_ask_ca_secret:
 * @workspace: a workspace
 * @interaction: (nullable): how to ask, or %NULL for the default
 * @key_path: (nullable): the key to unlock: a key file, or a file holding
 *   the `pkcs11:` URI of a key in a token; %NULL for the passphrase of new keys
 * @what: which key, for the person asked, e.g. "issuing CA"
 * @secret: (out) (transfer full) (nullable): the secret; %NULL (with %TRUE
 *   returned) for a token key whose URI names its own pin-source
 * @error: (nullable): return location
 *
 * The one place the secret of the workspace CA keys comes from: the PIN of a
 * PKCS#11 token through fst_interaction_ask_pin(), else the passphrase of key
 * files through fst_interaction_ask_passphrase(). The same secret encrypts the
 * report signing key.
 *
 * Returns: %TRUE on success; %FST_ERROR_CA_UNAVAILABLE when nobody answers
 */
gboolean
fst_station_ask_ca_secret(const gchar *workspace,
                          FstInteraction *interaction,
                          const gchar *key_path,
                          const gchar *what,
                          FstSecret **secret,
                          GError **error)
{
	g_autoptr(FstInteraction) ask = fst_station_get_interaction(workspace, interaction);
	g_autofree gchar *description = NULL;

	*secret = NULL;
	if (key_path != NULL && fst_ca_pkcs11_is_ref(key_path)) {
		g_autofree gchar *uri = fst_ca_pkcs11_read_ref(key_path, error);
		if (uri == NULL)
			return FALSE;
		if (fst_ca_pkcs11_has_pin_source(uri))
			return TRUE;
		description = g_strdup_printf("the %s key in the PKCS#11 token %s", what, uri);
		*secret = fst_interaction_ask_pin(
		    ask, description, FST_INTERACTION_FLAG_NONE, NULL, error);
		return *secret != NULL;
	}
	if (key_path != NULL)
		description = g_strdup_printf("the %s key %s", what, key_path);
	else
		description = g_strdup_printf("the %s keys of %s", what, workspace);
	*secret = fst_interaction_ask_passphrase(ask,
	                                         description,
	                                         key_path != NULL ? FST_INTERACTION_FLAG_NONE
	                                                          : FST_INTERACTION_FLAG_NEW,
	                                         NULL,
	                                         error);
	return *secret != NULL;
}

/**
 * fst_station_unlock_ca:
 * @workspace: a workspace
 * @interaction: (nullable): how to ask for the passphrase or PIN, or %NULL
 *   for the default
 * @error: (nullable): return location
 *
 * Opens the workspace's issuing CA: reads its certificate and chain, asks for
 * the secret (fst_station_ask_ca_secret()) and unlocks the key. A workspace
 * without an issuing CA certificate or key, a wrong secret or an expired CA is
 * %FST_ERROR_CA_UNAVAILABLE.
 *
 * Returns: (transfer full): the CA, or %NULL with @error set
 */
FstCa *
fst_station_unlock_ca(const gchar *workspace, FstInteraction *interaction, GError **error)
{
	g_autofree gchar *cert = fst_station_ca_path(workspace, "issuing-ca.pem");
	g_autofree gchar *key = fst_station_ca_path(workspace, "issuing-ca.key");
	g_autofree gchar *chain = fst_station_ca_path(workspace, "root-ca.pem");
	g_autoptr(FstSecret) secret = NULL;

	if (!g_file_test(cert, G_FILE_TEST_EXISTS) || !g_file_test(key, G_FILE_TEST_EXISTS)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CA_UNAVAILABLE,
		            "the workspace has no issuing CA %s: %s is missing; create, import "
		            "or install the issuing CA first",
		            g_file_test(cert, G_FILE_TEST_EXISTS) ? "key" : "certificate",
		            g_file_test(cert, G_FILE_TEST_EXISTS) ? key : cert);
		return NULL;
	}
	if (!fst_station_ask_ca_secret(workspace, interaction, key, "issuing CA", &secret, error))
		return NULL;
	return fst_ca_load(
	    cert, key, g_file_test(chain, G_FILE_TEST_EXISTS) ? chain : NULL, secret, error);
}

/**
 * fst_station_init_workspace:
 * @workspace: directory, created if needed
 * @organization: (nullable): the O of a demo PKI to create, or %NULL for none
 * @error: (nullable): return location
 *
 * Creates what a workspace needs and is missing: the configuration, the
 * database and, with @organization, a demo PKI (root +
 * issuing CA, ECDSA P-256, keys encrypted with `$FLEETSTATION_CA_PASSPHRASE`,
 * or with a generated passphrase kept in `ca/passphrase`, mode 0600). Without
 * it, `ca/` stays as it is, for `fleetstation ca create` or `ca import`.
 * Existing parts are left as they are, so this is safe to call on every run;
 * the workspace folder is made mode 0700 and its configuration and database
 * files 0600, also when they exist. A demo PKI is made only in a `ca/` that
 * holds no CA file: a pending `ca create --csr` or a foreign CA is refused
 * with %FST_ERROR_CONFIG before anything is written.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_station_init_workspace(const gchar *workspace, const gchar *organization, GError **error)
{
	g_autofree gchar *ca_dir = g_build_filename(workspace, "ca", NULL);
	g_autofree gchar *conf = g_build_filename(workspace, "station.conf", NULL);
	g_autofree gchar *issuing = fst_station_ca_path(workspace, "issuing-ca.pem");
	g_autoptr(FstDb) db = NULL;
	gboolean make_pki = organization != NULL && !g_file_test(issuing, G_FILE_TEST_EXISTS);

	/* a demo PKI goes only where no CA file is: check before writing anything */
	if (make_pki) {
		const gchar *ca_files[] = {FST_CA_STORE_ROOT_CERT,
		                           FST_CA_STORE_ROOT_KEY,
		                           FST_CA_STORE_ISSUING_KEY,
		                           FST_CA_STORE_ISSUING_CSR};
		for (guint i = 0; i < G_N_ELEMENTS(ca_files); i++) {
			g_autofree gchar *path = fst_station_ca_path(workspace, ca_files[i]);
			if (g_file_test(path, G_FILE_TEST_EXISTS)) {
				g_set_error(
				    error,
				    FST_ERROR,
				    FST_ERROR_CONFIG,
				    "%s exists but the workspace has no issuing CA "
				    "certificate: a CA is being set up there (an issuing CA "
				    "waiting for its certificate is finished with `ca "
				    "install`); refusing to make a demo PKI over it, "
				    "nothing was changed",
				    path);
				return FALSE;
			}
		}
	}

	if (!fst_station_mkdir_private(workspace, error) ||
	    !fst_station_tighten(workspace, 0700, error) ||
	    !fst_station_mkdir_private(ca_dir, error))
		return FALSE;

	if (!g_file_test(conf, G_FILE_TEST_EXISTS)) {
		g_autoptr(GKeyFile) kf = g_key_file_new();
		g_key_file_set_string(kf, "station", "name", g_get_host_name());
		if (organization != NULL)
			g_key_file_set_string(kf, "station", "organization", organization);
		if (!fst_station_save_conf(workspace, kf, error))
			return FALSE;
	} else if (!fst_station_tighten(conf, 0600, error)) {
		return FALSE;
	}

	db = fst_station_open_db(workspace, error);
	if (db == NULL)
		return FALSE;
	if (make_pki) {
		g_autoptr(FstSecret) passphrase =
		    fst_secret_new_from_env(FST_ENV_CA_PASSPHRASE, NULL);
		g_autofree gchar *pass_path = fst_station_ca_path(workspace, "passphrase");
		/* a passphrase file left by an interrupted run (or put there by the
		 * operator) is used, never replaced; a demo asks nobody */
		if (passphrase == NULL && g_file_test(pass_path, G_FILE_TEST_EXISTS)) {
			passphrase = fst_secret_new_from_file(pass_path, error);
			if (passphrase == NULL)
				return FALSE;
		}
		if (passphrase == NULL) {
			passphrase = fst_secret_new_random_passphrase(32, error);
			if (passphrase == NULL)
				return FALSE;
			if (!fst_secret_save(passphrase, pass_path, error))
				return FALSE;
			g_message("generated a passphrase for the demo CA keys in %s (mode 0600); "
			          "set %s to use your own",
			          pass_path,
			          FST_ENV_CA_PASSPHRASE);
		}
		if (!fst_ca_create_demo_pki(ca_dir, organization, passphrase, error)) {
			g_prefix_error(error, "creating the demo CA in %s: ", ca_dir);
			return FALSE;
		}
	}

	return TRUE;
}

/**
 * fst_station_has_ca:
 * @workspace: a workspace
 *
 * Returns: %TRUE if the workspace has an issuing CA certificate (made by
 *   `ca create`, `ca import`, `ca install` or a demo PKI); whether its key
 *   unlocks is fst_station_open()'s business
 */
gboolean
fst_station_has_ca(const gchar *workspace)
{
	g_autofree gchar *issuing = fst_station_ca_path(workspace, "issuing-ca.pem");
	return g_file_test(issuing, G_FILE_TEST_EXISTS);
}

/**
 * fst_station_default_operator:
 *
 * Returns: (transfer none): who runs fleetstation when no option says:
 *   `$FLEETSTATION_OPERATOR`, else the login name
 */
const gchar *
fst_station_default_operator(void)
{
	const gchar *env = g_getenv(FST_ENV_OPERATOR);
	return env != NULL && env[0] != '\0' ? env : g_get_user_name();
}

/**
 * fst_station_set_operator:
 * @self: an #FstStation
 * @operator_name: (nullable): who runs the station (a badge or login name);
 *   %NULL for `$FLEETSTATION_OPERATOR`, else the login name
 * @error: (nullable): return location
 *
 * Every device, certificate and event recorded from now on names this
 * operator (db/schema.md, `operators`).
 *
 * Returns: %TRUE on success; %FST_ERROR_INVALID_DATA for a name that is too
 *   long, not UTF-8 or holds control characters (the operator is unchanged)
 */
gboolean
fst_station_set_operator(FstStation *self, const gchar *operator_name, GError **error)
{
	if (operator_name == NULL)
		operator_name = fst_station_default_operator();
	if (!fst_db_set_context(self->db, operator_name, self->lot, error)) {
		g_prefix_error(error, "operator: ");
		return FALSE;
	}
	g_free(self->operator_name);
	self->operator_name = g_strdup(operator_name);
	return TRUE;
}

/**
 * fst_station_get_operator:
 * @self: an #FstStation
 *
 * Returns: (transfer none): who the records name as the operator
 */
const gchar *
fst_station_get_operator(FstStation *self)
{
	return self->operator_name;
}

/**
 * fst_station_set_lot:
 * @self: an #FstStation
 * @lot: (nullable): the production lot or work order of what follows
 * @error: (nullable): return location
 *
 * Every device, certificate and event recorded from now on carries @lot.
 *
 * Returns: %TRUE on success; %FST_ERROR_INVALID_DATA for a bad name
 */
gboolean
fst_station_set_lot(FstStation *self, const gchar *lot, GError **error)
{
	if (!fst_db_set_context(self->db, self->operator_name, lot, error)) {
		g_prefix_error(error, "lot: ");
		return FALSE;
	}
	g_free(self->lot);
	self->lot = g_strdup(lot);
	return TRUE;
}

static FstStation *
fst_station_new(void)
{
	FstStation *self = g_new0(FstStation, 1);
	g_atomic_ref_count_init(&self->ref_count);
	self->lock_fd = -1;
	g_mutex_init(&self->pool_lock);
	g_mutex_init(&self->in_flight_lock);
	g_mutex_init(&self->ca_warning_lock);
	g_mutex_init(&self->ca_renewed_lock);
	self->in_flight = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	self->old_pools = g_ptr_array_new_with_free_func((GDestroyNotify)fst_key_pool_free);
	return self;
}

/**
 * fst_station_open:
 * @workspace: an initialised workspace
 * @error: (nullable): return location
 *
 * fst_station_open_full() with the default interaction.
 *
 * Returns: (transfer full): a new #FstStation, or %NULL
 */
FstStation *
fst_station_open(const gchar *workspace, GError **error)
{
	return fst_station_open_full(workspace, NULL, error);
}

/**
 * fst_station_open_full:
 * @workspace: an initialised workspace
 * @interaction: (nullable): asks for the CA passphrase or PIN; %NULL for the
 *   default (fst_station_set_default_interaction())
 * @error: (nullable): return location
 *
 * Opens the database (migrating it if needed; a lost database is refused, see
 * fst_station_check_database()), takes the workspace lock, unlocks the issuing
 * CA (fst_station_unlock_ca()) and loads the trust catalogue. Devices left in
 * progress are marked for re-work only when no other process has the
 * workspace open. A key in a PKCS#11 token takes the PIN its URI's
 * `pin-source` names, else asks @interaction. Without a secret, or when the
 * key does not open, %FST_ERROR_CA_UNAVAILABLE.
 *
 * Returns: (transfer full): a new #FstStation, or %NULL
 */
FstStation *
fst_station_open_full(const gchar *workspace, FstInteraction *interaction, GError **error)
{
	return fst_station_open_as(workspace, interaction, NULL, error);
}

/**
 * fst_station_open_as:
 * @workspace: an initialised workspace
 * @interaction: (nullable): as for fst_station_open_full()
 * @operator_name: (nullable): who runs the station (fst_station_set_operator());
 *   %NULL for `$FLEETSTATION_OPERATOR`, else the login name
 * @error: (nullable): return location
 *
 * fst_station_open_full() for a known operator: the records of the opening
 * (devices marked for re-work) name @operator_name, and no other name is
 * recorded as an operator first.
 *
 * Returns: (transfer full): a new #FstStation, or %NULL
 */
FstStation *
fst_station_open_as(const gchar *workspace,
                    FstInteraction *interaction,
                    const gchar *operator_name,
                    GError **error)
{
	g_autoptr(FstStation) self = fst_station_new();
	g_autofree gchar *conf = g_build_filename(workspace, "station.conf", NULL);
	g_autofree gchar *trust_dir = g_build_filename(fst_station_templates_dir(), "trust", NULL);
	g_autofree gchar *user_trust_dir = g_build_filename(workspace, "trust", NULL);
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) error_local = NULL;
	gboolean alone = FALSE;

	self->workspace = g_strdup(workspace);
	if (interaction != NULL)
		self->interaction = g_object_ref(interaction);
	if (!g_key_file_load_from_file(kf, conf, G_KEY_FILE_NONE, &error_local)) {
		g_set_error(
		    error,
		    FST_ERROR,
		    FST_ERROR_CONFIG,
		    "cannot read %s: %s: run `fleetstation demo` or `fleetstation init` first",
		    conf,
		    error_local->message);
		return NULL;
	}
	self->name = g_key_file_get_string(kf, "station", "name", NULL);
	if (self->name == NULL || self->name[0] == '\0') {
		g_set_error(error, FST_ERROR, FST_ERROR_CONFIG, "%s has no [station] name", conf);
		return NULL;
	}

	self->lock_fd = fst_station_lock(workspace, &alone, error);
	if (self->lock_fd < 0)
		return NULL;
	self->db = fst_station_open_db(workspace, error);
	if (self->db == NULL)
		return NULL;
	self->id =
	    fst_db_ensure_station(self->db, self->name, g_get_host_name(), FST_VERSION, error);
	if (self->id <= 0)
		return NULL;
	/* every record names who runs the station: the one named, else the login */
	if (!fst_station_set_operator(self, operator_name, error))
		return NULL;
	/* devices this station left in-progress when it died are marked for re-work;
	 * while another process has the workspace open they may be its own */
	if (!alone) {
		g_debug("another process has %s open: devices in progress are left to it",
		        workspace);
	} else {
		g_autoptr(GPtrArray) interrupted =
		    fst_db_mark_interrupted(self->db, self->id, error);
		if (interrupted == NULL)
			return NULL;
		if (interrupted->len > 0)
			g_message(
			    "%u device(s) were left half-done by a previous run of station %s "
			    "and are marked for re-work (state rework), first %s",
			    interrupted->len,
			    self->name,
			    (const gchar *)g_ptr_array_index(interrupted, 0));
	}

	self->ca = fst_station_unlock_ca(workspace, interaction, error);
	if (self->ca == NULL)
		return NULL;
	/* what fst_ca_load() said of the CA's end, if anything */
	self->ca_warning = fst_ca_store_expiry_warning(
	    fst_ca_get_not_after(self->ca), 0, g_get_real_time() / G_USEC_PER_SEC);

	self->trust = fst_trust_catalogue_load(trust_dir, error);
	if (self->trust == NULL)
		return NULL;
	/* roots the user dropped into WORKSPACE/trust, e.g. cross-signed ones */
	if (!fst_trust_catalogue_add_user_roots(self->trust, user_trust_dir, error))
		return NULL;
	return g_steal_pointer(&self);
}

static void
fst_station_free(FstStation *self)
{
	g_free(self->workspace);
	g_clear_object(&self->interaction);
	g_free(self->name);
	g_free(self->operator_name);
	g_free(self->lot);
	if (self->db != NULL)
		fst_db_close(self->db);
	if (self->ca != NULL)
		fst_ca_free(self->ca);
	if (self->trust != NULL)
		fst_trust_catalogue_free(self->trust);
	if (self->key_pool != NULL)
		fst_key_pool_free(self->key_pool);
	g_clear_pointer(&self->aws_issuer, fst_aws_credentials_free);
	g_ptr_array_unref(self->old_pools);
	g_mutex_clear(&self->pool_lock);
	g_hash_table_unref(self->in_flight);
	g_mutex_clear(&self->in_flight_lock);
	g_free(self->ca_warning);
	g_mutex_clear(&self->ca_warning_lock);
	g_mutex_clear(&self->ca_renewed_lock);
	/* closing the last descriptor releases the workspace lock */
	if (self->lock_fd >= 0)
		close(self->lock_fd);
	g_free(self);
}

/**
 * fst_station_ref:
 * @self: an #FstStation
 *
 * A station is shared by the jobs that run on it and whoever opened it (the
 * GUI keeps one open for a shift); each holds a reference. Thread-safe.
 *
 * Returns: (transfer full): @self
 */
FstStation *
fst_station_ref(FstStation *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	g_atomic_ref_count_inc(&self->ref_count);
	return self;
}

/**
 * fst_station_unref:
 * @self: (nullable): an #FstStation
 *
 * Drops a reference; the last one closes the database and wipes the CA key.
 * Thread-safe.
 */
void
fst_station_unref(FstStation *self)
{
	if (self == NULL)
		return;
	if (g_atomic_ref_count_dec(&self->ref_count))
		fst_station_free(self);
}

/**
 * fst_station_get_key_pool:
 * @self: an #FstStation
 * @profile: the profile a device is provisioned with
 *
 * For a profile whose keys the station makes (key-source=station-generated),
 * the background pool that keeps keys of the profile's types ready, so that
 * the line does not wait for RSA key generation (about 0.2 s for 2048 bits,
 * 2 s for 4096). Made on first use, shared by every port; a later profile
 * with other key types gets a pool covering both. Thread-safe.
 *
 * Returns: (transfer none) (nullable): the pool, or %NULL when @profile has
 * the device make its key
 */
FstKeyPool *
fst_station_get_key_pool(FstStation *self, const FstProfile *profile)
{
	g_autoptr(GMutexLocker) locker = NULL;
	guint wanted;

	if (fst_profile_get_key_source(profile) != FST_KEY_SOURCE_STATION_GENERATED)
		return NULL;
	wanted = fst_profile_get_allowed_key_types(profile);
	locker = g_mutex_locker_new(&self->pool_lock);
	if (self->key_pool == NULL || (self->pool_key_types & wanted) != wanted) {
		/* keys already made for the old set are lost: that happens once per
		 * new profile on a line, not per device */
		if (self->key_pool != NULL)
			g_ptr_array_add(self->old_pools, g_steal_pointer(&self->key_pool));
		self->pool_key_types |= wanted;
		self->key_pool = fst_key_pool_new(self->pool_key_types, FST_STATION_KEY_POOL_DEPTH);
	}
	return self->key_pool;
}

const gchar *
fst_station_get_workspace(FstStation *self)
{
	return self->workspace;
}

const gchar *
fst_station_get_name(FstStation *self)
{
	return self->name;
}

gint64
fst_station_get_id(FstStation *self)
{
	return self->id;
}

/**
 * fst_station_get_db:
 * @self: an #FstStation
 *
 * Returns: (transfer none): the database
 */
FstDb *
fst_station_get_db(FstStation *self)
{
	return self->db;
}

/**
 * fst_station_get_ca:
 * @self: an #FstStation
 *
 * Returns: (transfer none): the unlocked issuing CA
 */
FstCa *
fst_station_get_ca(FstStation *self)
{
	return self->ca;
}

/**
 * fst_station_get_trust:
 * @self: an #FstStation
 *
 * Returns: (transfer none): the verified trust catalogue
 */
FstTrustCatalogue *
fst_station_get_trust(FstStation *self)
{
	return self->trust;
}

/**
 * fst_station_get_root_ca_path:
 * @self: an #FstStation
 *
 * Returns: (transfer full): the path of the root CA certificate, for
 * verifying issued chains
 */
gchar *
fst_station_get_root_ca_path(FstStation *self)
{
	return fst_station_ca_path(self->workspace, "root-ca.pem");
}

/**
 * fst_station_prepare_profile:
 * @self: an #FstStation
 * @profile: the profile a run is about to provision with
 * @error: (nullable): return location
 *
 * What every provisioning run does once per profile before its first device.
 * For a profile whose certificates the station's CA issues, it refuses one
 * the CA cannot issue now (fst_ca_check_profile(): a certificate would
 * outlive the CA, or the profile's fixed end has passed), since every device
 * would fail at its issue step, and warns about a CA that ends too soon.
 * It starts the key pool of a station-generated profile, so that keys are
 * being made while the first board is still being plugged in.
 *
 * Returns: %TRUE, or %FALSE with %FST_ERROR_CA_UNAVAILABLE or
 *   %FST_ERROR_CONFIG, before any device is touched
 */
gboolean
fst_station_prepare_profile(FstStation *self, const FstProfile *profile, GError **error)
{
	if (fst_profile_get_job(profile) == FST_PROFILE_JOB_PROVISION &&
	    fst_profile_get_issuer(profile) == FST_PROFILE_ISSUER_STATION) {
		if (!fst_ca_check_profile(self->ca, profile, error))
			return FALSE;
		g_free(fst_station_check_ca_warning(self, profile));
	}
	(void)fst_station_get_key_pool(self, profile);
	return TRUE;
}

/* the byte of station.lock whose lock claims @uid for one process: one of
 * 2^40 after the first byte, by the SHA-256 of the id (two ids sharing one
 * would only make the second wait for the first) */
static off_t
fst_station_claim_offset(const gchar *uid)
{
	guint8 digest[32];
	guint64 at = 0;

	fst_crypto_sha256(uid, strlen(uid), digest);
	for (guint i = 0; i < 5; i++)
		at = (at << 8) | digest[i];
	return (off_t)(at + 1);
}

/* locks (F_WRLCK) or unlocks (F_UNLCK) the claim byte of @uid for this
 * station's open station.lock: an open file description lock, so that
 * another process, or another #FstStation of this one, cannot take it while
 * this one holds it, and a process that dies lets it go. FALSE only when
 * another holds it; a file system without such locks claims nothing
 * (debug message). */
static gboolean
fst_station_claim_lock(FstStation *self, const gchar *uid, gshort type)
{
	struct flock fl = {
	    .l_type = type,
	    .l_whence = SEEK_SET,
	    .l_start = fst_station_claim_offset(uid),
	    .l_len = 1,
	};

	if (self->lock_fd < 0 || fcntl(self->lock_fd, F_OFD_SETLK, &fl) == 0)
		return TRUE;
	if (type != F_UNLCK && (errno == EAGAIN || errno == EACCES))
		return FALSE;
	g_debug("the claim of device %s in %s/station.lock: %s: not shared with other processes",
	        uid,
	        self->workspace,
	        g_strerror(errno));
	return TRUE;
}

/**
 * fst_station_claim_device:
 * @self: an #FstStation
 * @uid: the id a device gave
 * @port: the port it is on
 * @error: (nullable): return location
 *
 * Marks a device's run as in flight, once it has identified and before
 * anything is recorded for it, so that two boards giving the same id (a
 * serial number copied with a firmware image or an EEPROM) are never
 * provisioned at once: the second is refused, on another port of this
 * station or in another process with the workspace open (the GUI and a
 * `watch`, say), whose claims are byte locks of `station.lock`. One after
 * the other, the profile's `on-return` decides, as for any device that
 * comes back. fst_station_release_device() ends the claim.
 *
 * Returns: %TRUE, or %FALSE with %FST_ERROR_BUSY when a run of @uid is in
 *   flight on another port or in another process
 */
gboolean
fst_station_claim_device(FstStation *self, const gchar *uid, const gchar *port, GError **error)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->in_flight_lock);
	const gchar *other = g_hash_table_lookup(self->in_flight, uid);

	/* recorded with no device (it may not be recorded yet) at identify,
	 * outcome busy; fst_db_list_events() finds it for the device by the
	 * "device UID " its detail starts with */
	if (other != NULL) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_BUSY,
		            "device %s is being provisioned on %s at the same time: refused on "
		            "%s; either two boards give the same id (a copied serial number: set "
		            "the board on %s aside and have its id checked), or the board was "
		            "moved from there (retry once that port has ended)",
		            uid,
		            other,
		            port,
		            port);
		return FALSE;
	}
	if (!fst_station_claim_lock(self, uid, F_WRLCK)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_BUSY,
		            "device %s is being provisioned by another process with workspace %s "
		            "open at the same time: refused on %s; either two boards give the same "
		            "id (a copied serial number: set the board on %s aside and have its id "
		            "checked), or the board was moved from there (retry once it has ended)",
		            uid,
		            self->workspace,
		            port,
		            port);
		return FALSE;
	}
	g_hash_table_insert(self->in_flight, g_strdup(uid), g_strdup(port));
	return TRUE;
}

/**
 * fst_station_release_device:
 * @self: an #FstStation
 * @uid: a device fst_station_claim_device() claimed
 *
 * Ends the claim of a device whose run ended.
 */
void
fst_station_release_device(FstStation *self, const gchar *uid)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->in_flight_lock);

	if (g_hash_table_remove(self->in_flight, uid))
		(void)fst_station_claim_lock(self, uid, F_UNLCK);
}

/**
 * fst_station_connect_issuer:
 * @self: an #FstStation
 * @profile: the profile a run is about to provision with
 * @error: (nullable): return location
 *
 * For a profile whose certificates AWS IoT issues (`issuer=aws`), checks
 * once per run that the station has AWS credentials and that AWS IoT answers
 * (fst_aws_issuer_connect()), and keeps the credentials for the run's devices
 * (fst_station_new_aws_issuer()). Every provisioning run calls it before its
 * first device: an offline station refuses the run then, with what to do.
 * Other profiles need nothing.
 *
 * Returns: %TRUE when the run can issue its certificates
 */
gboolean
fst_station_connect_issuer(FstStation *self, const FstProfile *profile, GError **error)
{
	FstAwsCredentials *creds;

	if (fst_profile_get_issuer(profile) != FST_PROFILE_ISSUER_AWS)
		return TRUE;
	creds = fst_aws_issuer_connect(profile, error);
	if (creds == NULL)
		return FALSE;
	g_mutex_lock(&self->pool_lock);
	g_clear_pointer(&self->aws_issuer, fst_aws_credentials_free);
	self->aws_issuer = creds;
	self->aws_issuer_serial++;
	g_mutex_unlock(&self->pool_lock);
	return TRUE;
}

/**
 * fst_station_new_aws_issuer:
 * @self: an #FstStation
 * @profile: a profile with `issuer=aws`
 * @error: (nullable): return location
 *
 * An AWS IoT client for one device's run (each thread has its own), with
 * the credentials fst_station_connect_issuer() checked.
 *
 * Returns: (transfer full): the client, or %NULL with %FST_ERROR_CONFIG when
 *   the run was not connected to AWS
 */
FstAwsIot *
fst_station_new_aws_issuer(FstStation *self, const FstProfile *profile, GError **error)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->pool_lock);

	if (self->aws_issuer == NULL) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "profile %s has AWS IoT issue its certificates (issuer=aws), and this "
		            "run is not connected to AWS (fst_station_connect_issuer()): nothing "
		            "was provisioned",
		            fst_profile_get_name(profile));
		return NULL;
	}
	/* the keys each client starts with are the latest: a rotation (or a
	 * credential_process's new keys) is read here once, by one lane, not by
	 * every device's client; it is read into a copy outside the lock, so
	 * that the other lanes go on with the keys held (a helper may take up
	 * to its time limit) */
	if (!self->aws_refreshing && fst_aws_credentials_refresh_due(self->aws_issuer)) {
		FstAwsCredentials *work = fst_aws_credentials_copy(self->aws_issuer);
		guint serial = self->aws_issuer_serial;

		self->aws_refreshing = TRUE;
		g_mutex_unlock(&self->pool_lock);
		(void)fst_aws_credentials_refresh_ahead(work);
		g_mutex_lock(&self->pool_lock);
		self->aws_refreshing = FALSE;
		/* unless another run connected meanwhile */
		if (serial == self->aws_issuer_serial) {
			fst_aws_credentials_free(self->aws_issuer);
			self->aws_issuer = work;
		} else {
			fst_aws_credentials_free(work);
		}
	}
	return fst_aws_iot_new(self->aws_issuer, error);
}

/**
 * fst_station_start_run:
 * @self: an #FstStation
 * @profile_name: a profile name or file
 * @lot: (nullable): the production lot every record of the run carries
 * @operator_name: (nullable): who runs it (fst_station_set_operator())
 * @error: (nullable): return location
 *
 * The start of every provisioning run: loads the profile, prepares it
 * (fst_station_prepare_profile()), connects it to AWS when AWS issues its
 * certificates (fst_station_connect_issuer()) and sets the operator and lot.
 *
 * Returns: (transfer full): the loaded profile, or %NULL
 */
FstProfile *
fst_station_start_run(FstStation *self,
                      const gchar *profile_name,
                      const gchar *lot,
                      const gchar *operator_name,
                      GError **error)
{
	g_autoptr(FstProfile) loaded = fst_station_load_profile(self, profile_name, error);

	if (loaded == NULL)
		return NULL;
	if (!fst_station_prepare_profile(self, loaded, error))
		return NULL;
	if (!fst_station_connect_issuer(self, loaded, error))
		return NULL;
	if (operator_name != NULL && !fst_station_set_operator(self, operator_name, error))
		return NULL;
	if (!fst_station_set_lot(self, lot, error))
		return NULL;
	return g_steal_pointer(&loaded);
}

/* TRUE once the workspace's issuing CA is no longer the one this station
 * unlocked (`ca renew` since); ca/ is read at most once per
 * fst_station_ca_check_interval_ms(), so that a display refreshed every few
 * seconds (the GUI's) does no file I/O in between */
static gboolean
fst_station_ca_renewed(FstStation *self)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->ca_renewed_lock);
	gint64 now_us = g_get_monotonic_time();
	g_autofree gchar *path = NULL;
	g_autoptr(GPtrArray) certs = NULL;

	if (self->ca_renewed || now_us < self->ca_renewed_check_at)
		return self->ca_renewed;
	self->ca_renewed_check_at = now_us + (gint64)fst_station_ca_check_interval_ms() * 1000;
	path = fst_station_ca_path(self->workspace, FST_CA_STORE_ISSUING_CERT);
	certs = fst_ca_store_read_certs(path, NULL);
	self->ca_renewed =
	    certs != NULL && X509_cmp(g_ptr_array_index(certs, 0), fst_ca_get_cert(self->ca)) != 0;
	return self->ca_renewed;
}

/* the CA's end as the operator is told of it now, for @profile (nullable) */
static gchar *
fst_station_ca_warning_text(FstStation *self, const FstProfile *profile)
{
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	gint64 ca_end = fst_ca_get_not_after(self->ca);
	gchar *near_end = fst_ca_store_expiry_warning(ca_end, 0, now);
	g_autofree gchar *outlived = NULL;

	if (near_end != NULL && fst_station_ca_renewed(self)) {
		g_autofree gchar *end = fst_time_iso(ca_end * G_USEC_PER_SEC);
		g_free(near_end);
		return g_strdup_printf("the issuing CA this station unlocked ends on %s; the "
		                       "workspace's issuing CA was renewed since: start the "
		                       "station again (the watch, or close and open the window) to "
		                       "issue with the new one",
		                       end);
	}
	if (near_end != NULL || profile == NULL ||
	    fst_profile_get_issuer(profile) != FST_PROFILE_ISSUER_STATION)
		return near_end;
	outlived =
	    fst_ca_store_expiry_warning(ca_end, fst_profile_get_not_after(profile, now), now);
	if (outlived == NULL)
		return NULL;
	return g_strdup_printf("%s (profile %s, which allows its certificates to outlive the CA)",
	                       outlived,
	                       fst_profile_get_name(profile));
}

/**
 * fst_station_get_ca_warning:
 * @self: an #FstStation
 * @profile: (nullable): the profile of the run, if one runs
 *
 * What the operator is to be told of the issuing CA's end now: it has
 * expired, it ends within %FST_CA_STORE_WARN_DAYS days, or (for @profile,
 * which allows it) before a device certificate issued now would. Once the
 * workspace's issuing CA was renewed (`ca renew`) while this station runs
 * with the one before, the end is told with the way to the new one: start
 * the station again (noticed within fst_station_ca_check_interval_ms()). For a display that shows
 * the station's state (the GUI's).
 *
 * Returns: (transfer full) (nullable): the warning, or %NULL
 */
gchar *
fst_station_get_ca_warning(FstStation *self, const FstProfile *profile)
{
	g_return_val_if_fail(self != NULL, NULL);
	return fst_station_ca_warning_text(self, profile);
}

/**
 * fst_station_ca_check_interval_ms:
 *
 * How often fst_station_check_ca_warning() looks: a minute (the test hook
 * FST_TEST_CA_CHECK_MS shortens it).
 *
 * Returns: milliseconds
 */
guint
fst_station_ca_check_interval_ms(void)
{
	const gchar *ms = g_getenv("FST_TEST_CA_CHECK_MS");
	guint64 value = ms != NULL ? g_ascii_strtoull(ms, NULL, 10) : 0;
	return value > 0 && value < 60 * 1000 ? (guint)value : 60 * 1000;
}

/**
 * fst_station_check_ca_warning:
 * @self: an #FstStation
 * @profile: (nullable): the profile of the run, if one runs
 *
 * fst_station_get_ca_warning(), told (g_warning()) when it differs from
 * what was told last: at the start of a run, and as the days pass during a
 * run that goes on for days (a watch, a GUI left open), so that the
 * operator hears of the CA's end before the line stops at it. It looks at
 * most once a minute (fst_station_ca_check_interval_ms()); fst_ca_load()
 * has told the CA's near end at the station's opening, which is not told
 * again.
 *
 * Returns: (transfer full) (nullable): the warning when it was told now,
 *   else %NULL
 */
gchar *
fst_station_check_ca_warning(FstStation *self, const FstProfile *profile)
{
	g_autofree gchar *text = NULL;
	gint64 now_us = g_get_monotonic_time();

	g_return_val_if_fail(self != NULL, NULL);
	g_mutex_lock(&self->ca_warning_lock);
	if (now_us < self->ca_check_at) {
		g_mutex_unlock(&self->ca_warning_lock);
		return NULL;
	}
	self->ca_check_at = now_us + (gint64)fst_station_ca_check_interval_ms() * 1000;
	text = fst_station_ca_warning_text(self, profile);
	if (text == NULL || g_strcmp0(text, self->ca_warning) == 0) {
		g_mutex_unlock(&self->ca_warning_lock);
		return NULL;
	}
	g_free(self->ca_warning);
	self->ca_warning = g_strdup(text);
	g_mutex_unlock(&self->ca_warning_lock);
	g_warning("%s", text);
	return g_steal_pointer(&text);
}

static gint
fst_station_cmp_names(gconstpointer a, gconstpointer b)
{
	return g_strcmp0(*(const gchar *const *)a, *(const gchar *const *)b);
}

/* the names of the profiles in @dir/profiles/ into @names */
static void
fst_station_list_profiles(const gchar *dir, GPtrArray *names)
{
	g_autofree gchar *path = g_build_filename(dir, "profiles", NULL);
	g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
	const gchar *entry;

	while (d != NULL && (entry = g_dir_read_name(d)) != NULL) {
		if (g_str_has_suffix(entry, ".profile") && strlen(entry) > strlen(".profile"))
			g_ptr_array_add(names,
			                g_strndup(entry, strlen(entry) - strlen(".profile")));
	}
}

/**
 * fst_station_find_profile:
 * @workspace: (nullable): a workspace, whose `profiles/` folder holds its
 *   own profiles
 * @name: a profile name, or a path to a profile file (it has a `/`)
 * @error: (nullable): return location
 *
 * A name is looked up first in `@workspace/profiles/` (the profiles a PKI
 * engineer keeps with the workspace, which an installed package never
 * touches; one there takes the place of a template of the same name), then
 * in the templates' `profiles/`. One found nowhere is an error naming both
 * folders and the profiles they hold.
 *
 * Returns: (transfer full): the profile, or %NULL
 */
FstProfile *
fst_station_find_profile(const gchar *workspace, const gchar *name, GError **error)
{
	const gchar *dirs[] = {workspace, fst_station_templates_dir()};
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GString) where = g_string_new(NULL);
	g_autoptr(GString) there = g_string_new(NULL);

	g_return_val_if_fail(name != NULL, NULL);
	if (strchr(name, '/') != NULL)
		return fst_profile_load(name, error);
	for (guint i = 0; i < G_N_ELEMENTS(dirs); i++) {
		g_autoptr(GError) error_local = NULL;
		FstProfile *profile;
		g_autofree gchar *folder = NULL;

		if (dirs[i] == NULL)
			continue;
		profile = fst_profile_find(dirs[i], name, &error_local);
		if (profile != NULL)
			return profile;
		if (!g_error_matches(error_local, FST_ERROR, FST_ERROR_NOT_FOUND)) {
			g_propagate_error(error, g_steal_pointer(&error_local));
			return NULL;
		}
		folder = g_build_filename(dirs[i], "profiles", NULL);
		g_string_append_printf(where, "%s%s", where->len > 0 ? " or " : "", folder);
		fst_station_list_profiles(dirs[i], names);
	}
	g_ptr_array_sort(names, fst_station_cmp_names);
	for (guint i = 0; i < names->len; i++) {
		const gchar *n = g_ptr_array_index(names, i);
		if (i > 0 && g_strcmp0(n, g_ptr_array_index(names, i - 1)) == 0)
			continue;
		g_string_append_printf(there, "%s%s", there->len > 0 ? ", " : "", n);
	}
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_NOT_FOUND,
	            "no profile named %s in %s (there: %s): give one of those names, or the path "
	            "of a profile file",
	            name,
	            where->str,
	            there->len > 0 ? there->str : "none");
	return NULL;
}

/**
 * fst_station_load_profile:
 * @self: (nullable): an #FstStation, or %NULL where no station is open
 * @name: a profile name, or a path to a profile file
 * @error: (nullable): return location
 *
 * fst_station_find_profile() in the station's workspace.
 *
 * Returns: (transfer full): the profile, or %NULL
 */
FstProfile *
fst_station_load_profile(FstStation *self, const gchar *name, GError **error)
{
	return fst_station_find_profile(
	    self != NULL ? fst_station_get_workspace(self) : NULL, name, error);
}
