/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

#include "fst-db.h"
#include "fst-secret.h"

G_BEGIN_DECLS

/*
 * The central registry: one PostgreSQL database that several stations ship
 * their records to (db/central.md). Each station's SQLite file stays its
 * write-ahead journal; this is the copy the stations share, where the
 * uniqueness across stations is enforced by constraints.
 */

/* the central schema this code writes (db/central.md, "Migrations") */
#define FST_CENTRAL_SCHEMA_VERSION 3

typedef struct _FstCentral FstCentral;

gchar *fst_central_normalize_conninfo(const gchar *conninfo, GError **error);
FstCentral *fst_central_connect(const gchar *conninfo, GError **error);

/**
 * FstCentralAskPassword:
 * @who: the database user and server the password is for
 * @retry: the password given before was refused
 * @user_data: the caller's data
 * @error: return location for a #GError
 *
 * Asks for the password of the central registry's database user.
 *
 * Returns: (transfer full): the password, or %NULL with @error set
 */
typedef FstSecret *(*FstCentralAskPassword)(const gchar *who,
                                            gboolean retry,
                                            gpointer user_data,
                                            GError **error);
FstCentral *fst_central_connect_full(const gchar *conninfo,
                                     FstCentralAskPassword ask,
                                     gpointer user_data,
                                     GError **error);
void fst_central_free(FstCentral *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstCentral, fst_central_free)
gboolean fst_central_is_connected(FstCentral *self);
const gchar *fst_central_get_server(FstCentral *self);

gboolean fst_central_get_schema_version(FstCentral *self, guint *version, GError **error);
gboolean fst_central_migrate(FstCentral *self, guint *from, guint *to, GError **error);
gboolean fst_central_check_schema(FstCentral *self, GError **error);
gboolean fst_central_fill_keys(FstCentral *self, guint *filled, guint *flagged, GError **error);

/* reservations: a device id is worked on by one station at a time */
gboolean
fst_central_reserve(FstCentral *self, const gchar *station, const gchar *uid, GError **error);
gchar *fst_central_find_key_holder(FstCentral *self,
                                   const gchar *key_sha256,
                                   const gchar *uid,
                                   gchar **station,
                                   gchar **serial_hex,
                                   GError **error);
gboolean
fst_central_release(FstCentral *self, const gchar *station, const gchar *uid, GError **error);
gboolean fst_central_handover(FstCentral *self,
                              const gchar *uid,
                              const gchar *old_station,
                              const gchar *old_serial,
                              const gchar *new_station,
                              GError **error);

/**
 * FstCentralStation:
 *
 * One station as the central registry knows it (`central status`).
 */
typedef struct {
	gchar *name;
	gchar *database_id;  /* (nullable) */
	gchar *host;         /* (nullable) */
	gint64 head_id;      /* the last event shipped */
	gchar *head_hash;    /* (nullable) */
	gint64 last_sync_at; /* unix microseconds, 0 for never */
	gint64 devices;
	gint64 certificates;
	gint64 events;
	gint64 conflicts;
} FstCentralStation;

void fst_central_station_free(FstCentralStation *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstCentralStation, fst_central_station_free)
GPtrArray *fst_central_list_stations(FstCentral *self, GError **error);

/**
 * FstCentralConflict:
 *
 * A record a station shipped that broke a uniqueness rule the registry holds
 * (a serial issued twice by one CA, two certificates in service for one
 * device): stored as the station sent it, flagged, never merged.
 */
typedef struct {
	gint64 id;
	gchar *kind; /* `serial` or `in-service` */
	gchar *device_uid;
	gchar *serial_hex;
	gchar *station;
	gchar *other_station; /* (nullable) */
	gchar *detail;
	gint64 found_at; /* unix microseconds */
} FstCentralConflict;

void fst_central_conflict_free(FstCentralConflict *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstCentralConflict, fst_central_conflict_free)
GPtrArray *fst_central_list_conflicts(FstCentral *self, GError **error);

/**
 * FstCentralCert:
 *
 * A certificate as the central registry holds it: what a station needs to
 * recognise a device another station provisioned, and what the central
 * reports list.
 */
typedef struct {
	gchar *station;
	gchar *device_uid;
	gchar *serial_hex;
	gchar *issuer_sha256;
	gchar *aws_cert_id;
	gchar *state;
	gint slot;
	gchar *lot;           /* (nullable) */
	gchar *operator_name; /* (nullable) */
	gchar *profile;       /* (nullable) */
	gint64 created_at;
	gchar *conflict;      /* (nullable) */
	gchar *superseded_by; /* (nullable): "STATION SERIAL" that took the device over */
} FstCentralCert;

void fst_central_cert_free(FstCentralCert *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstCentralCert, fst_central_cert_free)
GPtrArray *fst_central_list_certificates(FstCentral *self,
                                         const gchar *device_uid,
                                         const gchar *lot,
                                         GError **error);

/* the sync: a station's committed records, in order (fst-central-sync.c) */

/**
 * FstCentralSyncStats:
 *
 * What one fst_central_sync() call shipped.
 */
typedef struct {
	guint batches;
	gint64 events;
	gint64 rows; /* devices, certificates, objects, names bound by those events */
	gint64 registrations;
	gint64 conflicts;
	gint64 head_id; /* the station's last event now in the registry */
	gboolean busy;  /* another sync of the station held the lock: nothing done */
	guint retried;  /* batches the registry rolled back (a deadlock with another
	                 * station's batch) and that were sent again */
} FstCentralSyncStats;

gboolean fst_central_sync(FstCentral *self,
                          FstDb *db,
                          const gchar *station,
                          guint batch_events,
                          guint max_batches,
                          FstCentralSyncStats *stats,
                          GError **error);
gboolean fst_central_get_backlog(
    FstDb *db, gint64 *events, gint64 *registrations, gint64 *last_sync_at, GError **error);

/* the registration queue, worked centrally (fst-central-queue.c) */

/**
 * FstCentralRegistration:
 *
 * One row of the central registration queue, claimed by a registrar, with
 * what the registrar needs of its certificate.
 */
typedef struct {
	gint64 id;
	gchar *station;
	gchar *device_uid;
	gchar *serial_hex;
	gchar *aws_cert_id;
	gchar *issuer_sha256;
	gchar *lot; /* (nullable) */
	gchar *target;
	gchar *action;    /* `register` or `deactivate` */
	gchar *remote_id; /* (nullable): the certificate ARN once known */
	gint attempts;    /* this claim included: above 1, the cloud may have it already */
	GBytes *der;
} FstCentralRegistration;

void fst_central_registration_free(FstCentralRegistration *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstCentralRegistration, fst_central_registration_free)
GPtrArray *fst_central_claim_registrations(FstCentral *self,
                                           const gchar *registrar,
                                           const gchar *target,
                                           const gchar *action,
                                           guint limit,
                                           gint64 lease_us,
                                           GError **error);
gboolean fst_central_complete_registration(FstCentral *self,
                                           gint64 id,
                                           const gchar *registrar,
                                           const gchar *remote_id,
                                           const gchar *failure,
                                           GError **error);
gboolean fst_central_defer_registration(FstCentral *self,
                                        gint64 id,
                                        const gchar *registrar,
                                        const gchar *failure,
                                        gint64 delay_us,
                                        GError **error);
gboolean fst_central_count_registrations(FstCentral *self, gint64 counts[4], GError **error);
gboolean fst_central_renew_registration(FstCentral *self,
                                        gint64 id,
                                        const gchar *registrar,
                                        const gchar *remote_id,
                                        gint64 lease_us,
                                        GError **error);

/* the central audit (fst-central-audit.c) */

/**
 * FstCentralAuditStation:
 *
 * The central audit of one station's copy.
 */
typedef struct {
	gchar *station;
	gboolean ok;
	gint64 events;
	gint64 certificates;
	gint64 head_id;
	gchar *head_hash; /* (nullable) */
	gchar *problem;   /* (nullable) */
} FstCentralAuditStation;

void fst_central_audit_station_free(FstCentralAuditStation *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstCentralAuditStation, fst_central_audit_station_free)
GPtrArray *fst_central_audit(FstCentral *self, GError **error);
gboolean fst_central_compare_journal(
    FstCentral *self, const gchar *db_path, const gchar *station, gchar **problem, GError **error);

G_END_DECLS
