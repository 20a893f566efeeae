/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

#include "fst-device-info.h"

G_BEGIN_DECLS

/*
 * The station database (db/schema.md): one SQLite file shared by the port
 * workers, the CLI and the reports. Grouped by what the functions hold: the
 * connection, stations and context, devices, certificates, objects and
 * events, the device log the pipeline writes through, the registration
 * queue, and maintenance.
 */

/* the connection */

/* the newest schema version this build can create and read */
#define FST_DB_SCHEMA_VERSION 9

typedef struct _FstDb FstDb;

FstDb *fst_db_open(const gchar *path, GError **error);
FstDb *fst_db_open_read_only(const gchar *path, GError **error);
void fst_db_close(FstDb *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstDb, fst_db_close)
guint fst_db_get_schema_version(FstDb *self);
const gchar *fst_db_get_path(FstDb *self);
gint fst_db_get_synchronous(FstDb *self);

/* stations and the session context */

gint64 fst_db_ensure_station(FstDb *self,
                             const gchar *name,
                             const gchar *host,
                             const gchar *software_version,
                             GError **error);
gboolean
fst_db_set_context(FstDb *self, const gchar *operator_name, const gchar *lot, GError **error);

/* certificates (declared before devices, which carry their current one) */

/**
 * FstCertState:
 *
 * Life of a device certificate, as stored in `certificates.state`.
 * `issued` is written (and committed) before any byte goes to the device.
 * Moves: forward through issued, burned, verified, registered; verified or
 * registered to superseded (fst_db_device_log_supersede()); issued or burned
 * to interrupted when the station stopped during the attempt
 * (fst_db_mark_interrupted()), and interrupted to superseded when the device
 * is provisioned again; any state to revoked, which is final (db/schema.md,
 * "States and transitions"). The values are not an order.
 */
typedef enum {
	FST_CERT_STATE_ISSUED,
	FST_CERT_STATE_BURNED,
	FST_CERT_STATE_VERIFIED,
	FST_CERT_STATE_REGISTERED,
	FST_CERT_STATE_SUPERSEDED, /* replaced on the device by a newer one */
	FST_CERT_STATE_REVOKED,
	FST_CERT_STATE_INTERRUPTED, /* its attempt stopped with the station; maybe on the device */
	FST_CERT_STATE_LAST
} FstCertState;

const gchar *fst_cert_state_to_string(FstCertState state);

/**
 * FstDbCert:
 *
 * A certificate as the database records it (see db/schema.md). Fields marked
 * "read back" are set by the queries and ignored when recording.
 */
typedef struct {
	gchar *serial_hex; /* upper-case hex */
	GBytes *der;
	gchar *aws_cert_id; /* SHA-256 of the DER, lower-case hex */
	gchar *subject;
	gchar *key_type;
	gint64 not_before; /* unix seconds */
	gint64 not_after;
	gchar *issuer_sha256; /* SHA-256 of the issuing CA certificate DER */
	gchar *profile;
	FstCertState state;
	gint64 created_at; /* unix microseconds, UTC; read back */
	gint64 updated_at;
	gchar *profile_sha256;    /* (nullable): content hash of the profile
	                             (fst_profile_get_content_sha256()) */
	gint64 id;                /* read back */
	gchar *device_uid;        /* read back */
	gchar *operator_name;     /* read back, from the session context */
	gchar *lot;               /* read back, from the session context */
	gint64 revoked_at;        /* unix microseconds, 0 when not revoked */
	gchar *revocation_reason; /* (nullable): set with fst_db_revoke_certificate() */
	gint slot; /* the device credential slot it was written to: 0 = A (default), 1 = B */
	/* (nullable): a cloud target to register it with, e.g. "aws-iot:eu-west-1":
	 * a `register` row enters the `registrations` queue in the same
	 * transaction as the certificate (recording only) */
	gchar *register_target;
	/* (nullable): with @register_target, the id the target knows the
	 * certificate by already (the ARN of a certificate AWS IoT issued): the
	 * row carries it, and the worker goes on from what the target has */
	gchar *register_remote_id;
	/* with @register_remote_id: the target has it and nothing more is to
	 * be done there: the row is written `done` (it is where a revocation
	 * goes) */
	gboolean register_done;
} FstDbCert;

void fst_db_cert_free(FstDbCert *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstDbCert, fst_db_cert_free)

/**
 * FstDbCertFilter:
 *
 * What fst_db_list_certificates() returns; every field is optional (%NULL or
 * 0 matches everything) and the fields combine with AND.
 */
typedef struct {
	const gchar *device_uid;
	const gchar *state;         /* an #FstCertState name, e.g. "issued" */
	const gchar *issuer_sha256; /* any case */
	const gchar *lot;
	gint64 station_id;
	gint64 since_us;         /* created_at >= since_us */
	gint64 until_us;         /* created_at < until_us */
	const gchar *serial_hex; /* any case: one row, by the serial's index */
} FstDbCertFilter;

gboolean
fst_db_add_certificate(FstDb *self, gint64 device_id, const FstDbCert *cert, GError **error);
gchar *fst_db_get_key_holder(FstDb *self, gconstpointer spki, gsize spki_len, GError **error);
void fst_db_set_key_reused(GError **error,
                           const gchar *what,
                           const guint8 key_sha256[32],
                           const gchar *holder);
gboolean fst_db_check_public_key(
    FstDb *self, const gchar *uid, gconstpointer spki, gsize spki_len, GError **error);
gboolean fst_db_set_certificate_state(FstDb *self,
                                      const gchar *serial_hex,
                                      FstCertState state,
                                      GError **error);
gboolean fst_db_revoke_certificate(FstDb *self,
                                   const gchar *serial_hex,
                                   const gchar *reason,
                                   GError **error);
/* a certificate given to the caller (transfer full); %FALSE stops the walk */
typedef gboolean (*FstDbCertFunc)(FstDbCert *cert, gpointer user_data);
gboolean fst_db_foreach_certificate(FstDb *self,
                                    const FstDbCertFilter *filter,
                                    FstDbCertFunc func,
                                    gpointer user_data,
                                    GError **error);
GPtrArray *fst_db_list_certificates(FstDb *self, const FstDbCertFilter *filter, GError **error);
gint64 fst_db_count_certificates_by_issuer(FstDb *self, const gchar *issuer_sha256, GError **error);
FstDbCert *fst_db_get_active_certificate(FstDb *self, const gchar *device_uid, GError **error);
GBytes *
fst_db_get_escrow(FstDb *self, const gchar *serial_hex, gchar **recipient_sha256, GError **error);

/* devices */

/**
 * FstDbDeviceState:
 *
 * Where a device is, as stored in `devices.state` (db/schema.md, "States
 * and transitions"): `new` is reserved for devices known before they are
 * seen; `in-progress` while an attempt runs; `provisioned` and `failed` when
 * it ended; `rework` when the station stopped during the attempt.
 */
typedef enum {
	FST_DB_DEVICE_STATE_NEW,
	FST_DB_DEVICE_STATE_IN_PROGRESS,
	FST_DB_DEVICE_STATE_PROVISIONED,
	FST_DB_DEVICE_STATE_FAILED,
	FST_DB_DEVICE_STATE_REWORK,
	FST_DB_DEVICE_STATE_LAST
} FstDbDeviceState;

const gchar *fst_db_device_state_to_string(FstDbDeviceState state);
gboolean fst_db_device_state_from_string(const gchar *str, FstDbDeviceState *state);

/* the device state names, by #FstDbDeviceState */
extern const gchar *const fst_db_device_states[FST_DB_DEVICE_STATE_LAST];

/**
 * FstDbDevice:
 *
 * A device row with its current certificate.
 */
typedef struct {
	gint64 id;
	gchar *uid;
	gchar *model;
	gchar *firmware;
	gchar *port;
	FstDbDeviceState state;
	gchar *last_error; /* (nullable) */
	FstDbCert *cert;   /* (nullable): the current certificate */
	guint protocol_version;
	gchar *key_types;  /* (nullable): e.g. "ec-p256,rsa-2048" */
	gchar *validation; /* (nullable): e.g. "rsa-pkcs1,ecdsa-p256" */
	gint64 station_id; /* 0 when unknown */
	gint64 created_at; /* unix microseconds, UTC */
	gint64 updated_at;
	gchar *operator_name; /* (nullable): who last worked on it */
	gchar *lot;           /* (nullable): the lot it was last provisioned for */
} FstDbDevice;

void fst_db_device_free(FstDbDevice *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstDbDevice, fst_db_device_free)

gint64 fst_db_begin_device(
    FstDb *self, gint64 station_id, const FstDeviceInfo *info, const gchar *port, GError **error);
gboolean fst_db_finish_device(
    FstDb *self, gint64 device_id, const gchar *serial_hex, const GError *failure, GError **error);
FstDbDevice *fst_db_find_device(FstDb *self, const gchar *uid, GError **error);
FstDbDevice *fst_db_search_device(FstDb *self, const gchar *text, GError **error);
/* a device given to the caller (transfer full); %FALSE stops the walk */
typedef gboolean (*FstDbDeviceFunc)(FstDbDevice *device, gpointer user_data);
gboolean fst_db_foreach_device(
    FstDb *self, const gchar *state, FstDbDeviceFunc func, gpointer user_data, GError **error);
GPtrArray *fst_db_list_devices(FstDb *self, GError **error);
GPtrArray *fst_db_mark_interrupted(FstDb *self, gint64 station_id, GError **error);

/* objects written to devices, and events */

gboolean fst_db_add_object(FstDb *self,
                           gint64 device_id,
                           const gchar *serial_hex,
                           FstObjectKind kind,
                           GBytes *data,
                           const gchar *contents,
                           GError **error);

/**
 * FstDbEvent:
 *
 * A pipeline step and how it ended: one row of the `events` table, or one
 * step of a row that holds the steps of a device log commit (all with that
 * row's @id and @hash; db/schema.md, "Audit chain").
 */
typedef struct {
	gint64 id;
	gint64 device_id;  /* 0 for station-wide events */
	gint64 station_id; /* 0 when unknown */
	gchar *step;
	gint64 started_us; /* unix microseconds, UTC */
	gint64 ended_us;
	gchar *outcome;     /* "ok", "failed", "cancelled", ... */
	gchar *detail;      /* (nullable) */
	gint64 operator_id; /* 0 when unknown */
	gint64 lot_id;      /* 0 when unknown */
	gchar *hash;        /* (nullable): the audit chain hash (db/fst-audit.c) */
} FstDbEvent;

void fst_db_event_free(FstDbEvent *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstDbEvent, fst_db_event_free)

gboolean fst_db_add_event(FstDb *self,
                          gint64 device_id,
                          const gchar *step,
                          gint64 started_us,
                          gint64 ended_us,
                          const gchar *outcome,
                          const gchar *detail,
                          GError **error);
GPtrArray *fst_db_list_events(FstDb *self, gint64 device_id, GError **error);

/* the device log */

/**
 * FstDbDeviceLog:
 *
 * The records of one device being provisioned, gathered in memory and
 * written by fst_db_device_log_commit() in one durable transaction: the
 * pipeline commits before the first byte goes to the device and once at the
 * end (db/schema.md, "Durability").
 */
typedef struct _FstDbDeviceLog FstDbDeviceLog;

FstDbDeviceLog *fst_db_device_log_new(gint64 station_id,
                                      const FstDeviceInfo *info,
                                      const gchar *port,
                                      GError **error);
void fst_db_device_log_free(FstDbDeviceLog *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstDbDeviceLog, fst_db_device_log_free)
gint64 fst_db_device_log_get_device_id(FstDbDeviceLog *self);
guint fst_db_device_log_get_pending(FstDbDeviceLog *self);
void fst_db_device_log_add_event(FstDbDeviceLog *self,
                                 const gchar *step,
                                 gint64 started_us,
                                 gint64 ended_us,
                                 const gchar *outcome,
                                 const gchar *detail);
void fst_db_device_log_add_certificate(FstDbDeviceLog *self, const FstDbCert *cert);
void fst_db_device_log_add_object(FstDbDeviceLog *self,
                                  const gchar *serial_hex,
                                  FstObjectKind kind,
                                  GBytes *data,
                                  const gchar *contents);
void fst_db_device_log_set_certificate_state(FstDbDeviceLog *self,
                                             const gchar *serial_hex,
                                             FstCertState state);
void fst_db_device_log_finish(FstDbDeviceLog *self, const gchar *serial_hex, const GError *failure);
void fst_db_device_log_supersede(FstDbDeviceLog *self,
                                 const gchar *old_serial_hex,
                                 const gchar *new_serial_hex);
void fst_db_device_log_add_escrow(FstDbDeviceLog *self,
                                  const gchar *serial_hex,
                                  const gchar *recipient_sha256,
                                  GBytes *cms_der);
gboolean fst_db_device_log_commit(FstDb *db, FstDbDeviceLog *self, GError **error);
void fst_db_get_commit_stats(FstDb *self, guint64 *transactions, guint64 *logs, guint *waiting);

/* the cloud registration queue */

/**
 * FstDbRegistration:
 *
 * One row of the cloud registration queue (`registrations`): a certificate
 * to register with a target, to deactivate there once superseded, or to
 * revoke there once revoked.
 */
typedef struct {
	gint64 id;
	gchar *serial_hex;  /* the certificate */
	gchar *aws_cert_id; /* its SHA-256, lower-case hex */
	gchar *target;      /* e.g. "aws-iot:eu-west-1", or "*" (wherever it is) */
	gchar *action;      /* "register", "deactivate" or "revoke" */
	gchar *state;       /* "pending", "in-progress", "done", "failed" */
	gint attempts;
	gint64 created_at; /* unix microseconds, UTC */
} FstDbRegistration;

void fst_db_registration_free(FstDbRegistration *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstDbRegistration, fst_db_registration_free)

GPtrArray *
fst_db_list_registrations(FstDb *self, const gchar *action, const gchar *state, GError **error);

/**
 * FstDbRegistrationCount:
 *
 * How many registration rows of one action are in one state
 * (fst_db_count_registrations_by_issuer()).
 */
typedef struct {
	gchar *action; /* "register" or "deactivate" */
	gchar *state;
	gint64 count;
} FstDbRegistrationCount;

void fst_db_registration_count_free(FstDbRegistrationCount *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstDbRegistrationCount, fst_db_registration_count_free)

GPtrArray *
fst_db_count_registrations_by_issuer(FstDb *self, const gchar *issuer_sha256, GError **error);

/**
 * FstDbAwsRecord:
 * @aws_cert_id: the certificate's SHA-256, lower-case hex (AWS's id)
 * @serial_hex: its serial
 * @device_uid: its device
 * @state: its #FstCertState name
 * @issuer_sha256: (nullable): the SHA-256 of the CA that signed it; %NULL
 *   for one AWS IoT issued (`issuer=aws`)
 * @registered: (nullable): the state of its `register` row for the target,
 *   %NULL without one
 * @deactivated: (nullable): the same, of its `deactivate` row (the target's
 *   or `*`)
 * @revoked: (nullable): the same, of its `revoke` row (the target's or `*`)
 *
 * What the database says of one certificate at one cloud target
 * (fst_db_foreach_aws_record()); the strings are borrowed for the call.
 */
typedef struct {
	const gchar *aws_cert_id;
	const gchar *serial_hex;
	const gchar *device_uid;
	const gchar *state;
	const gchar *issuer_sha256;
	const gchar *registered;
	const gchar *deactivated;
	const gchar *revoked;
} FstDbAwsRecord;

typedef gboolean (*FstDbAwsRecordFunc)(const FstDbAwsRecord *record, gpointer user_data);
gboolean fst_db_foreach_aws_record(
    FstDb *self, const gchar *target, FstDbAwsRecordFunc func, gpointer user_data, GError **error);

/* maintenance */

gboolean fst_db_backup(FstDb *self, const gchar *dest, GError **error);
gchar *fst_db_get_last_backup(FstDb *self);
gboolean fst_db_integrity_check(FstDb *self, GError **error);

/**
 * FstDbStats:
 *
 * Counts for `fleetstation db stats`.
 */
typedef struct {
	guint schema_version;
	gchar *database_id; /* (owned) */
	gint64 file_bytes;  /* main file, without the WAL */
	gint64 stations;
	gint64 operators;
	gint64 lots;
	gint64 devices;
	gint64 devices_by_state[FST_DB_DEVICE_STATE_LAST];
	gint64 certificates;
	gint64 certificates_by_state[FST_CERT_STATE_LAST];
	gint64 events;
	gint64 registrations_pending;
} FstDbStats;

gboolean fst_db_get_stats(FstDb *self, FstDbStats *stats, GError **error);
void fst_db_stats_clear(FstDbStats *stats);

G_END_DECLS
