/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The station's side of the central registry (db/central.md): the
 * `[central]` settings of station.conf, the reservation of a device id
 * before the pipeline issues, the recognition of a device another station
 * provisioned, and the sync worker that ships the station's committed
 * records in the background.
 *
 * The line never waits for the sync: the worker reads the journal on a
 * connection of its own and talks to the server from its own thread. Only
 * the reservation is on the line's path, two round trips per device (the
 * reservation and the device's central history) on a pool of connections, and
 * after a failed connection the station counts as offline for
 * FST_CENTRAL_OFFLINE_RETRY_US without trying again, so an unreachable
 * server costs the line one connect timeout per period, not one per device.
 */

#define G_LOG_DOMAIN "FstCentral"

#include "fst-config.h"

#include "fst-central-station.h"
#include "fst-crypto.h"
#include "fst-error.h"

#define FST_CENTRAL_GROUP "central"
#define FST_CENTRAL_DEFAULT_BATCH 500
#define FST_CENTRAL_DEFAULT_INTERVAL_MS 500
#define FST_CENTRAL_DEFAULT_DRAIN_MS 5000
#define FST_CENTRAL_OFFLINE_RETRY_US (10 * G_USEC_PER_SEC)
#define FST_CENTRAL_BACKOFF_MAX_MS 10000
/* connections of the line's pool: enough for a gang's reservations to
 * overlap, few enough that a short run does not spend its time connecting */
#define FST_CENTRAL_POOL_MAX 4

/**
 * fst_central_settings_load:
 * @workspace: a workspace
 * @error: return location for a #GError
 *
 * Reads the `[central]` group of `WORKSPACE/station.conf`: `conninfo` (a
 * libpq connection string or a service name, never with a password),
 * `batch-events`, `interval-ms`, `drain-ms`. A workspace without the group
 * (or without the file) has no central registry: @conninfo is %NULL.
 *
 * Returns: (transfer full): the settings, or %NULL with %FST_ERROR_CONFIG
 */
FstCentralSettings *
fst_central_settings_load(const gchar *workspace, GError **error)
{
	g_autofree gchar *path = g_build_filename(workspace, "station.conf", NULL);
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(FstCentralSettings) self = g_new0(FstCentralSettings, 1);
	g_autoptr(GError) error_local = NULL;
	const struct {
		const gchar *key;
		guint *value;
		guint def;
		guint min;
		guint max;
	} nums[] = {
	    {"batch-events", &self->batch_events, FST_CENTRAL_DEFAULT_BATCH, 1, 5000},
	    {"interval-ms", &self->interval_ms, FST_CENTRAL_DEFAULT_INTERVAL_MS, 10, 600000},
	    {"drain-ms", &self->drain_ms, FST_CENTRAL_DEFAULT_DRAIN_MS, 0, 600000},
	};

	for (guint i = 0; i < G_N_ELEMENTS(nums); i++)
		*nums[i].value = nums[i].def;
	if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &error_local)) {
		if (g_error_matches(error_local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			return g_steal_pointer(&self);
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "cannot read %s: %s",
		            path,
		            error_local->message);
		return NULL;
	}
	if (!g_key_file_has_group(kf, FST_CENTRAL_GROUP))
		return g_steal_pointer(&self);
	self->conninfo = g_key_file_get_string(kf, FST_CENTRAL_GROUP, "conninfo", NULL);
	if (self->conninfo != NULL) {
		g_autofree gchar *checked = fst_central_normalize_conninfo(self->conninfo, error);
		if (checked == NULL) {
			g_prefix_error(error, "%s [central] conninfo: ", path);
			return NULL;
		}
	}
	for (guint i = 0; i < G_N_ELEMENTS(nums); i++) {
		g_autofree gchar *str =
		    g_key_file_get_string(kf, FST_CENTRAL_GROUP, nums[i].key, NULL);
		guint64 v = 0;
		if (str == NULL)
			continue;
		if (!g_ascii_string_to_unsigned(str, 10, nums[i].min, nums[i].max, &v, NULL)) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CONFIG,
			            "%s [central] %s: '%s' is not a number from %u to %u",
			            path,
			            nums[i].key,
			            str,
			            nums[i].min,
			            nums[i].max);
			return NULL;
		}
		*nums[i].value = (guint)v;
	}
	return g_steal_pointer(&self);
}

/**
 * fst_central_settings_free:
 * @self: (transfer full) (nullable): settings
 */
void
fst_central_settings_free(FstCentralSettings *self)
{
	if (self == NULL)
		return;
	g_free(self->conninfo);
	g_free(self);
}

/**
 * fst_central_settings_save_conninfo:
 * @workspace: a workspace with a station.conf
 * @conninfo: a libpq connection string or service name (checked: no
 *   password)
 * @error: return location for a #GError
 *
 * Writes `[central] conninfo` into `WORKSPACE/station.conf`, keeping the
 * rest of the file (`fleetstation init --central`).
 *
 * Returns: %TRUE on success
 */
gboolean
fst_central_settings_save_conninfo(const gchar *workspace, const gchar *conninfo, GError **error)
{
	g_autofree gchar *path = g_build_filename(workspace, "station.conf", NULL);
	g_autofree gchar *checked = fst_central_normalize_conninfo(conninfo, error);
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) error_local = NULL;

	if (checked == NULL)
		return FALSE;
	if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_KEEP_COMMENTS, &error_local) &&
	    !g_error_matches(error_local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "cannot read %s: %s",
		            path,
		            error_local->message);
		return FALSE;
	}
	g_key_file_set_string(kf, FST_CENTRAL_GROUP, "conninfo", conninfo);
	if (!g_key_file_save_to_file(kf, path, &error_local)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "cannot write %s: %s",
		            path,
		            error_local->message);
		return FALSE;
	}
	return TRUE;
}

/**
 * fst_central_station_read_name:
 * @workspace: a workspace
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the station's name (`[station] name`), the key
 *   of its records in the central registry, or %NULL
 */
gchar *
fst_central_station_read_name(const gchar *workspace, GError **error)
{
	g_autofree gchar *path = g_build_filename(workspace, "station.conf", NULL);
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *name = NULL;

	if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &error_local)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "cannot read %s: %s",
		            path,
		            error_local->message);
		return NULL;
	}
	name = g_key_file_get_string(kf, "station", "name", NULL);
	if (name == NULL || name[0] == '\0') {
		g_set_error(error, FST_ERROR, FST_ERROR_CONFIG, "%s has no [station] name", path);
		return NULL;
	}
	return g_steal_pointer(&name);
}

/* the passwords given for the central registries this process connects to
 * (conninfo -> FstSecret), so that the line's connections, the sync worker
 * and their reconnections ask once: in memory only, never in station.conf,
 * and wiped when refused */
static GMutex fst_central_passwords_lock;
static GHashTable *fst_central_passwords = NULL;
/* counts the answers given, so that a connection refused with an older
 * answer takes the newer one instead of asking again */
static guint fst_central_passwords_generation = 0;

typedef struct {
	const gchar *conninfo;
	FstInteraction *interaction;
	guint generation; /* of the answer this connection last tried */
} FstCentralAsk;

static FstSecret *
fst_central_station_ask_password(const gchar *who,
                                 gboolean retry,
                                 gpointer user_data,
                                 GError **error)
{
	FstCentralAsk *ask = user_data;
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fst_central_passwords_lock);
	FstSecret *known;
	FstSecret *secret;

	if (fst_central_passwords == NULL)
		fst_central_passwords = g_hash_table_new_full(
		    g_str_hash, g_str_equal, g_free, (GDestroyNotify)fst_secret_free);
	known = g_hash_table_lookup(fst_central_passwords, ask->conninfo);
	/* the answer known, unless it is the one just refused: another
	 * connection may have asked again while this one waited */
	if (known != NULL && (!retry || ask->generation != fst_central_passwords_generation)) {
		ask->generation = fst_central_passwords_generation;
		return fst_secret_new(fst_secret_get_data(known, NULL), fst_secret_get_len(known));
	}
	g_hash_table_remove(fst_central_passwords, ask->conninfo);
	/* one question at a time: the other connections wait for its answer */
	secret = fst_interaction_ask_password(ask->interaction,
	                                      who,
	                                      retry ? FST_INTERACTION_FLAG_RETRY
	                                            : FST_INTERACTION_FLAG_NONE,
	                                      NULL,
	                                      error);
	if (secret == NULL)
		return NULL;
	g_hash_table_insert(
	    fst_central_passwords,
	    g_strdup(ask->conninfo),
	    fst_secret_new(fst_secret_get_data(secret, NULL), fst_secret_get_len(secret)));
	ask->generation = ++fst_central_passwords_generation;
	return secret;
}

/* a connection to a registry; a password the server wants and libpq finds
 * nowhere is asked through @interaction */
static FstCentral *
fst_central_station_connect_conninfo(FstInteraction *interaction,
                                     const gchar *conninfo,
                                     GError **error)
{
	FstCentralAsk ask = {conninfo, interaction, 0};
	return fst_central_connect_full(conninfo, fst_central_station_ask_password, &ask, error);
}

/**
 * fst_central_station_connect:
 * @workspace: a workspace
 * @error: return location for a #GError
 *
 * Connects to the workspace's central registry. When the server wants a
 * password that libpq finds neither in ~/.pgpass nor in $PGPASSFILE, the
 * process's interaction (fst_station_set_default_interaction(): the CLI's
 * prompt) is asked, once per process and registry; the line's connections
 * and the sync worker ask the interaction their station was opened with.
 *
 * Returns: (transfer full): a connection, or %NULL with %FST_ERROR_CONFIG
 *   when none is configured, %FST_ERROR_DISCONNECTED when it is unreachable
 */
FstCentral *
fst_central_station_connect(const gchar *workspace, GError **error)
{
	g_autoptr(FstCentralSettings) settings = fst_central_settings_load(workspace, error);
	g_autoptr(FstInteraction) interaction = NULL;

	if (settings == NULL)
		return NULL;
	if (settings->conninfo == NULL) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "workspace %s has no central registry: set one with fleetstation init "
		            "--central CONNINFO ([central] conninfo in station.conf)",
		            workspace);
		return NULL;
	}
	interaction = fst_station_dup_interaction(workspace);
	return fst_central_station_connect_conninfo(interaction, settings->conninfo, error);
}

/**
 * fst_central_profile_get_offline:
 * @profile: a profile
 *
 * Returns: the profile's `[profile] offline` (refuse unless it says
 *   `proceed`)
 */
FstCentralOffline
fst_central_profile_get_offline(const FstProfile *profile)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autofree gchar *value = NULL;
	const gchar *path = fst_profile_get_path(profile);

	if (path == NULL || !g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, NULL))
		return FST_CENTRAL_OFFLINE_REFUSE;
	value = g_key_file_get_string(kf, "profile", "offline", NULL);
	if (value != NULL && g_strcmp0(g_strstrip(value), "proceed") == 0)
		return FST_CENTRAL_OFFLINE_PROCEED;
	return FST_CENTRAL_OFFLINE_REFUSE;
}

/* the line's link to the registry, one per workspace: a pool of
 * connections, one per port thread in a call at a time, so that the ports'
 * reservations run side by side (and their commits share the server's
 * disk syncs) instead of one after the other */
typedef struct {
	GMutex mutex;                 /* guards idle, n_open, offline_until, offline_reason */
	GCond cond;                   /* a connection was given back */
	FstCentralSettings *settings; /* (owned) */
	FstInteraction *interaction;  /* (owned): asks for the password, the first station's */
	GPtrArray *idle;              /* (owned) (element-type FstCentral): free connections */
	guint n_open;                 /* connections made and not dropped, idle or in a call */
	gint64 offline_until;         /* monotonic: do not try again before */
	gchar *offline_reason;        /* (owned) (nullable) */
} FstCentralLink;

/* one connection taken from the pool for a call; given back when the call
 * ends, or dropped when the link was lost */
typedef struct {
	FstCentralLink *link;
	FstCentral *conn; /* (owned) (nullable) */
} FstCentralLease;

static GMutex fst_central_links_lock;
static GHashTable *fst_central_links; /* workspace -> FstCentralLink, kept for the process */

static FstCentralLink *
fst_central_link_get(FstStation *station)
{
	const gchar *workspace = fst_station_get_workspace(station);
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fst_central_links_lock);
	FstCentralLink *link;

	if (fst_central_links == NULL)
		fst_central_links = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	link = g_hash_table_lookup(fst_central_links, workspace);
	if (link == NULL) {
		g_autoptr(GError) error_local = NULL;
		link = g_new0(FstCentralLink, 1);
		g_mutex_init(&link->mutex);
		g_cond_init(&link->cond);
		link->idle = g_ptr_array_new_with_free_func((GDestroyNotify)fst_central_free);
		link->interaction = fst_station_ref_interaction(station);
		link->settings = fst_central_settings_load(workspace, &error_local);
		if (link->settings == NULL) {
			g_warning("central registry: %s", error_local->message);
			link->settings = g_new0(FstCentralSettings, 1);
		}
		g_hash_table_insert(fst_central_links, g_strdup(workspace), link);
	}
	return link;
}

/* a connection of the pool, made if needed (outside the lock: ports connect
 * side by side); NULL when offline (the reason set) */
static FstCentral *
fst_central_link_acquire(FstCentralLink *link)
{
	g_autoptr(GError) error_local = NULL;
	FstCentral *conn = NULL;

	g_mutex_lock(&link->mutex);
	for (;;) {
		while (conn == NULL && link->idle->len > 0) {
			conn = g_ptr_array_steal_index(link->idle, link->idle->len - 1);
			if (!fst_central_is_connected(conn)) {
				g_clear_pointer(&conn, fst_central_free);
				link->n_open--;
			}
		}
		if (conn != NULL || g_get_monotonic_time() < link->offline_until ||
		    link->n_open < FST_CENTRAL_POOL_MAX)
			break;
		g_cond_wait(&link->cond, &link->mutex);
	}
	if (conn == NULL && g_get_monotonic_time() < link->offline_until) {
		g_mutex_unlock(&link->mutex);
		return NULL;
	}
	if (conn == NULL)
		link->n_open++; /* this call makes one */
	g_mutex_unlock(&link->mutex);
	if (conn != NULL)
		return conn;
	conn = fst_central_station_connect_conninfo(
	    link->interaction, link->settings->conninfo, &error_local);
	if (conn != NULL && !fst_central_check_schema(conn, &error_local))
		g_clear_pointer(&conn, fst_central_free);
	if (conn == NULL) {
		g_mutex_lock(&link->mutex);
		link->n_open--;
		g_cond_broadcast(&link->cond);
		g_free(link->offline_reason);
		link->offline_reason = g_strdup(error_local->message);
		link->offline_until = g_get_monotonic_time() + FST_CENTRAL_OFFLINE_RETRY_US;
		g_mutex_unlock(&link->mutex);
		g_warning("working offline: %s", error_local->message);
	}
	return conn;
}

static void
fst_central_lease_clear(FstCentralLease *lease)
{
	if (lease->conn == NULL)
		return;
	g_mutex_lock(&lease->link->mutex);
	g_ptr_array_add(lease->link->idle, g_steal_pointer(&lease->conn));
	g_cond_signal(&lease->link->cond);
	g_mutex_unlock(&lease->link->mutex);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(FstCentralLease, fst_central_lease_clear)

/* the call on @lease failed: its connection is dropped, and the station
 * counts as offline for a while */
static void
fst_central_lease_lost(FstCentralLease *lease, const GError *error)
{
	FstCentralLink *link = lease->link;

	g_clear_pointer(&lease->conn, fst_central_free);
	g_mutex_lock(&link->mutex);
	link->n_open--;
	g_cond_broadcast(&link->cond);
	g_free(link->offline_reason);
	link->offline_reason = g_strdup(error->message);
	link->offline_until = g_get_monotonic_time() + FST_CENTRAL_OFFLINE_RETRY_US;
	g_mutex_unlock(&link->mutex);
}

static gpointer
fst_central_warm_up_thread(gpointer data)
{
	FstCentralLink *link = data;
	g_auto(FstCentralLease) lease = {link, NULL};
	lease.conn = fst_central_link_acquire(link);
	return NULL;
}

/**
 * fst_central_station_warm_up:
 * @station: a station
 *
 * Connects the line's link to the registry in the background (a job
 * starting), so that the first device does not wait for the connection.
 */
void
fst_central_station_warm_up(FstStation *station)
{
	FstCentralLink *link = fst_central_link_get(station);

	if (link->settings->conninfo == NULL)
		return;
	g_thread_unref(g_thread_new("fst-central-link", fst_central_warm_up_thread, link));
}

/**
 * fst_central_station_reserve:
 * @station: a station
 * @profile: the profile of the attempt
 * @uid: the device id
 * @error: return location for a #GError
 *
 * Reserves @uid in the central registry before the pipeline issues a
 * certificate for it. Does nothing for a station without one. When the
 * registry is unreachable, the profile's `offline` decides.
 *
 * Returns: %TRUE if the pipeline may issue; %FALSE with %FST_ERROR_BUSY
 *   (another station holds the id, named in the message) or
 *   %FST_ERROR_DISCONNECTED (offline, and the profile says offline=refuse)
 */
gboolean
fst_central_station_reserve(FstStation *station,
                            const FstProfile *profile,
                            const gchar *uid,
                            GError **error)
{
	FstCentralLink *link = fst_central_link_get(station);
	g_auto(FstCentralLease) lease = {link, NULL};
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *reason = NULL;

	if (link->settings->conninfo == NULL)
		return TRUE;
	lease.conn = fst_central_link_acquire(link);
	if (lease.conn != NULL) {
		if (fst_central_reserve(
		        lease.conn, fst_station_get_name(station), uid, &error_local))
			return TRUE;
		if (g_error_matches(error_local, FST_ERROR, FST_ERROR_BUSY)) {
			g_propagate_error(error, g_steal_pointer(&error_local));
			return FALSE;
		}
		/* any other failure (the server going down answers with an
		 * error before the link drops): the registry cannot vouch */
		fst_central_lease_lost(&lease, error_local);
	}
	g_mutex_lock(&link->mutex);
	reason = g_strdup(link->offline_reason != NULL ? link->offline_reason : "no link");
	g_mutex_unlock(&link->mutex);
	if (fst_central_profile_get_offline(profile) == FST_CENTRAL_OFFLINE_PROCEED) {
		g_message("device %s: the central registry is unreachable (%s); profile %s "
		          "proceeds offline (offline=proceed): a conflict will be flagged at sync",
		          uid,
		          reason,
		          fst_profile_get_name(profile));
		return TRUE;
	}
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_DISCONNECTED,
	            "device %s: the central registry is unreachable (%s), and profile %s issues "
	            "nothing offline (offline=refuse); nothing was issued. Restore the link to "
	            "the server, or use a profile with offline=proceed",
	            uid,
	            reason,
	            fst_profile_get_name(profile));
	return FALSE;
}

/**
 * fst_central_station_release:
 * @station: a station
 * @uid: a device id fst_central_station_reserve() reserved
 * @provisioned: the attempt gave the device a certificate in service
 *
 * Ends the reservation of an attempt. A failed attempt releases it at once;
 * a device provisioned keeps it until the sync has shipped its certificate
 * in service (fst_central_sync() releases it in the same transaction), so
 * that no other station sees the device as new in between. Best effort: a
 * reservation left behind is renewed by the same station.
 */
void
fst_central_station_release(FstStation *station, const gchar *uid, gboolean provisioned)
{
	FstCentralLink *link = fst_central_link_get(station);
	g_auto(FstCentralLease) lease = {link, NULL};
	g_autoptr(GError) error_local = NULL;

	if (link->settings->conninfo == NULL || uid == NULL || provisioned)
		return;
	lease.conn = fst_central_link_acquire(link);
	if (lease.conn == NULL)
		return;
	if (!fst_central_release(lease.conn, fst_station_get_name(station), uid, &error_local)) {
		g_debug("releasing %s: %s", uid, error_local->message);
		if (g_error_matches(error_local, FST_ERROR, FST_ERROR_DISCONNECTED))
			fst_central_lease_lost(&lease, error_local);
	}
}

/**
 * fst_central_station_check_key:
 * @station: a station
 * @uid: the device a key is about to be certified for
 * @spki: the key, a DER SubjectPublicKeyInfo
 * @spki_len: its length
 * @error: return location for a #GError
 *
 * One key, one device across the stations, before anything is issued: the
 * central registry is asked whether a certificate for the key was issued
 * to another device at any station (fst_central_find_key_holder()). The
 * station's own records are checked at the first commit; this adds the
 * other stations' that have reached the registry. Unreachable, nothing is
 * known (the reservation's offline rule has decided already), and the sync
 * flags a clone when it gets there (`key` conflict).
 *
 * Returns: %FALSE with %FST_ERROR_KEY_REUSED when another device holds the
 *   key
 */
gboolean
fst_central_station_check_key(
    FstStation *station, const gchar *uid, gconstpointer spki, gsize spki_len, GError **error)
{
	FstCentralLink *link = fst_central_link_get(station);
	g_auto(FstCentralLease) lease = {link, NULL};
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *holder = NULL;
	g_autofree gchar *holder_station = NULL;
	g_autofree gchar *holder_serial = NULL;
	guint8 key[32];
	gchar hex[65];

	if (link->settings->conninfo == NULL)
		return TRUE;
	lease.conn = fst_central_link_acquire(link);
	if (lease.conn == NULL)
		return TRUE;
	fst_crypto_public_key_sha256(spki, spki_len, key);
	fst_crypto_hex_into(hex, sizeof(hex), key, sizeof(key), FALSE);
	holder = fst_central_find_key_holder(
	    lease.conn, hex, uid, &holder_station, &holder_serial, &error_local);
	if (error_local != NULL) {
		g_debug("device %s: the key was not looked up centrally: %s",
		        uid,
		        error_local->message);
		if (g_error_matches(error_local, FST_ERROR, FST_ERROR_DISCONNECTED))
			fst_central_lease_lost(&lease, error_local);
		return TRUE;
	}
	if (holder == NULL)
		return TRUE;
	{
		g_autofree gchar *what = g_strdup_printf("device %s", uid);
		g_autofree gchar *where =
		    g_strdup_printf("%s, by station %s (certificate %s, central registry)",
		                    holder,
		                    holder_station,
		                    holder_serial);
		fst_db_set_key_reused(error, what, key, where);
	}
	return FALSE;
}

/**
 * fst_central_station_recognise:
 * @station: a station
 * @profile: the profile of the attempt
 * @uid: a device this station has no certificate in service for
 * @refused: (out): set when the profile refuses the device
 * @foreign_slot: (out): the credential slot of the certificate in service
 *   another station recorded, for a device re-provisioned here; -1 for none
 * @error: return location for a #GError
 *
 * Looks the device up in the central registry: a certificate in service
 * that another station recorded makes it a returning device, and the
 * profile's on-return applies (refuse: an error with its central history;
 * reprovision: a handover is recorded, so that the new certificate
 * supersedes the other station's there, and the pipeline goes on).
 * Unreachable: nothing is known, and the offline rule decides.
 *
 * Returns: %FALSE when refused (@refused set) or the registry failed
 */
gboolean
fst_central_station_recognise(FstStation *station,
                              const FstProfile *profile,
                              const gchar *uid,
                              gboolean *refused,
                              gint *foreign_slot,
                              GError **error)
{
	FstCentralLink *link = fst_central_link_get(station);
	g_auto(FstCentralLease) lease = {link, NULL};
	g_autoptr(GError) error_local = NULL;
	g_autoptr(GPtrArray) certs = NULL;
	g_autoptr(GString) history = g_string_new(NULL);
	FstCentralCert *active = NULL;

	*refused = FALSE;
	*foreign_slot = -1;
	if (link->settings->conninfo == NULL)
		return TRUE;
	lease.conn = fst_central_link_acquire(link);
	if (lease.conn == NULL)
		return TRUE;
	certs = fst_central_list_certificates(lease.conn, uid, NULL, &error_local);
	if (certs == NULL) {
		/* the registry went away between the reservation and now: what
		 * it knows of the device is unknown, the offline rule decides */
		fst_central_lease_lost(&lease, error_local);
		if (fst_central_profile_get_offline(profile) == FST_CENTRAL_OFFLINE_PROCEED)
			return TRUE;
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DISCONNECTED,
		            "device %s: the central registry went away while looking up its "
		            "history (%s), and profile %s issues nothing offline (offline=refuse); "
		            "nothing was issued",
		            uid,
		            error_local->message,
		            fst_profile_get_name(profile));
		return FALSE;
	}
	for (guint i = certs->len; i > 0; i--) {
		FstCentralCert *c = g_ptr_array_index(certs, i - 1);
		g_autoptr(GDateTime) dt =
		    g_date_time_new_from_unix_utc(c->created_at / G_USEC_PER_SEC);
		g_autofree gchar *when =
		    dt != NULL ? g_date_time_format(dt, "%Y-%m-%d %H:%M") : NULL;
		gboolean in_service = c->conflict == NULL && c->superseded_by == NULL &&
		                      (g_strcmp0(c->state, "verified") == 0 ||
		                       g_strcmp0(c->state, "registered") == 0);
		if (in_service && active == NULL)
			active = c;
		if (certs->len - i < 4)
			g_string_append_printf(
			    history,
			    "%scertificate %s %s %s UTC, slot %c, station %s, lot %s, "
			    "operator %s",
			    history->len > 0 ? "; " : "",
			    c->serial_hex,
			    c->state,
			    when != NULL ? when : "?",
			    c->slot == 1 ? 'B' : 'A',
			    c->station,
			    c->lot != NULL ? c->lot : "-",
			    c->operator_name != NULL ? c->operator_name : "-");
	}
	if (active == NULL || g_strcmp0(active->station, fst_station_get_name(station)) == 0)
		return TRUE;
	if (fst_profile_get_on_return(profile) == FST_PROFILE_ON_RETURN_REFUSE) {
		*refused = TRUE;
		g_set_error(
		    error,
		    FST_ERROR,
		    FST_ERROR_CONFIG,
		    "device %s came back: station %s provisioned it (central registry: %s), "
		    "and profile %s refuses devices that come back (on-return=refuse); "
		    "nothing was issued. See fleetstation central status, or use a profile "
		    "with on-return=reprovision to give it a new certificate",
		    uid,
		    active->station,
		    history->str,
		    fst_profile_get_name(profile));
		return FALSE;
	}
	if (!fst_central_handover(lease.conn,
	                          uid,
	                          active->station,
	                          active->serial_hex,
	                          fst_station_get_name(station),
	                          &error_local)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DISCONNECTED,
		            "device %s came back from station %s, and the central registry could "
		            "not record that this station takes it over (%s); nothing was issued",
		            uid,
		            active->station,
		            error_local->message);
		fst_central_lease_lost(&lease, error_local);
		return FALSE;
	}
	g_message("device %s came back from station %s (certificate %s in service there, "
	          "slot %c); profile %s re-provisions it",
	          uid,
	          active->station,
	          active->serial_hex,
	          active->slot == 1 ? 'B' : 'A',
	          fst_profile_get_name(profile));
	*foreign_slot = active->slot;
	return TRUE;
}

/* the sync worker */

struct _FstCentralWorker {
	FstStation *station;          /* (owned) */
	FstCentralSettings *settings; /* (owned) */
	GThread *thread;
	GMutex mutex;
	GCond cond;
	gboolean stopping;
	gint64 drain_deadline; /* monotonic: stop after this, shipped or not */
	gboolean kicked;
	gboolean idle; /* the last pass found nothing to ship */
	gboolean link_up;
};

static gpointer
fst_central_worker_thread(gpointer data)
{
	FstCentralWorker *self = data;
	g_autoptr(FstCentral) conn = NULL;
	guint backoff_ms = 200;

	for (;;) {
		g_autoptr(GError) error_local = NULL;
		FstCentralSyncStats stats = {0};
		guint wait_ms = self->settings->interval_ms;
		gboolean stopping;

		g_mutex_lock(&self->mutex);
		stopping = self->stopping;
		if (stopping && (self->idle || g_get_monotonic_time() >= self->drain_deadline)) {
			g_mutex_unlock(&self->mutex);
			break;
		}
		g_mutex_unlock(&self->mutex);

		if (conn == NULL || !fst_central_is_connected(conn)) {
			g_clear_pointer(&conn, fst_central_free);
			g_autoptr(FstInteraction) interaction =
			    fst_station_ref_interaction(self->station);
			conn = fst_central_station_connect_conninfo(
			    interaction, self->settings->conninfo, &error_local);
			if (conn != NULL && !fst_central_check_schema(conn, &error_local))
				g_clear_pointer(&conn, fst_central_free);
		}
		if (conn != NULL && fst_central_sync(conn,
		                                     fst_station_get_db(self->station),
		                                     fst_station_get_name(self->station),
		                                     self->settings->batch_events,
		                                     20,
		                                     &stats,
		                                     &error_local)) {
			backoff_ms = 200;
			g_mutex_lock(&self->mutex);
			self->link_up = TRUE;
			self->idle = stats.batches == 0;
			g_mutex_unlock(&self->mutex);
			if (stats.batches > 0) {
				g_debug("shipped %" G_GINT64_FORMAT " events, %" G_GINT64_FORMAT
				        " rows, up to event %" G_GINT64_FORMAT,
				        stats.events,
				        stats.rows,
				        stats.head_id);
				continue; /* more may be waiting */
			}
		} else {
			if (conn != NULL && !fst_central_is_connected(conn))
				g_clear_pointer(&conn, fst_central_free);
			g_mutex_lock(&self->mutex);
			if (self->link_up || error_local == NULL)
				g_message(
				    "central sync paused: %s (the records stay in the station's "
				    "journal and are shipped when the link is back)",
				    error_local != NULL ? error_local->message : "no link");
			self->link_up = FALSE;
			self->idle = FALSE;
			g_mutex_unlock(&self->mutex);
			wait_ms = backoff_ms;
			backoff_ms = MIN(backoff_ms * 2, FST_CENTRAL_BACKOFF_MAX_MS);
		}
		g_mutex_lock(&self->mutex);
		if (!self->kicked && !self->stopping) {
			gint64 end = g_get_monotonic_time() + (gint64)wait_ms * 1000;
			while (!self->kicked && !self->stopping)
				if (!g_cond_wait_until(&self->cond, &self->mutex, end))
					break;
		} else if (self->stopping && !self->idle && wait_ms > 0) {
			/* draining: wait a little between attempts, never past the deadline */
			gint64 end = MIN(g_get_monotonic_time() + (gint64)MIN(wait_ms, 200) * 1000,
			                 self->drain_deadline);
			g_cond_wait_until(&self->cond, &self->mutex, end);
		}
		self->kicked = FALSE;
		g_mutex_unlock(&self->mutex);
	}
	return NULL;
}

/**
 * fst_central_worker_start:
 * @station: a station
 * @error: return location for a #GError
 *
 * Starts the sync worker of a station with a central registry: a thread
 * that ships the committed records every `interval-ms`, or sooner when
 * kicked, and keeps trying (with a growing pause) while the link is down.
 *
 * Returns: (transfer full) (nullable): the worker; %NULL without error for a
 *   station without a central registry
 */
FstCentralWorker *
fst_central_worker_start(FstStation *station, GError **error)
{
	g_autoptr(FstCentralSettings) settings =
	    fst_central_settings_load(fst_station_get_workspace(station), error);
	FstCentralWorker *self;

	if (settings == NULL || settings->conninfo == NULL)
		return NULL;
	self = g_new0(FstCentralWorker, 1);
	self->station = fst_station_ref(station);
	self->settings = g_steal_pointer(&settings);
	g_mutex_init(&self->mutex);
	g_cond_init(&self->cond);
	self->thread = g_thread_new("fst-central-sync", fst_central_worker_thread, self);
	fst_central_station_warm_up(station);
	return self;
}

/**
 * fst_central_worker_kick:
 * @self: a worker
 *
 * Asks for a pass now (records were just committed).
 */
void
fst_central_worker_kick(FstCentralWorker *self)
{
	g_mutex_lock(&self->mutex);
	self->kicked = TRUE;
	g_cond_signal(&self->cond);
	g_mutex_unlock(&self->mutex);
}

/**
 * fst_central_worker_stop:
 * @self: a worker
 * @drain_ms: how long to go on shipping what is left
 *
 * Stops the worker once everything committed was shipped, or after
 * @drain_ms: what is left stays in the journal for the next run.
 *
 * Returns: %TRUE when nothing was left to ship
 */
gboolean
fst_central_worker_stop(FstCentralWorker *self, guint drain_ms)
{
	gboolean idle;

	if (self->thread == NULL)
		return TRUE;
	g_mutex_lock(&self->mutex);
	self->stopping = TRUE;
	self->idle = FALSE; /* one more pass for what the end of the job wrote */
	self->drain_deadline = g_get_monotonic_time() + (gint64)drain_ms * 1000;
	g_cond_signal(&self->cond);
	g_mutex_unlock(&self->mutex);
	g_thread_join(self->thread);
	self->thread = NULL;
	idle = self->idle;
	return idle;
}

/**
 * fst_central_worker_free:
 * @self: (transfer full) (nullable): a worker
 *
 * Stops the worker as fst_central_worker_stop() does, giving it the
 * workspace's `drain-ms` to ship what is left (the end of a job), then
 * frees it.
 */
void
fst_central_worker_free(FstCentralWorker *self)
{
	if (self == NULL)
		return;
	if (!fst_central_worker_stop(self, self->settings->drain_ms))
		g_message("central sync: records are left to ship; they stay in the station's "
		          "journal and go with the next run (or fleetstation central sync)");
	fst_station_unref(self->station);
	fst_central_settings_free(self->settings);
	g_mutex_clear(&self->mutex);
	g_cond_clear(&self->cond);
	g_free(self);
}
