/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

#include "fst-aws-iot.h"
#include "fst-ca.h"
#include "fst-db.h"
#include "fst-interaction.h"
#include "fst-profile.h"
#include "fst-secret.h"
#include "fst-trust.h"

G_BEGIN_DECLS

/**
 * FstStation:
 *
 * One provisioning station: its workspace (database, CA, configuration), the
 * issuing CA, the trust catalogue and the templates. Shared read-only by the
 * port workers; the CA and the database are safe to use from several threads.
 */
typedef struct _FstStation FstStation;

/* environment variable that holds the issuing CA passphrase */
#define FST_ENV_CA_PASSPHRASE "FLEETSTATION_CA_PASSPHRASE"
/* who runs the station, when --operator does not say (else the login name) */
#define FST_ENV_OPERATOR "FLEETSTATION_OPERATOR"

gchar *fst_station_default_workspace(void);
const gchar *fst_station_templates_dir(void);
gboolean
fst_station_init_workspace(const gchar *workspace, const gchar *organization, GError **error);
gboolean fst_station_has_ca(const gchar *workspace);
gboolean fst_station_check_database(const gchar *workspace, GError **error);
gboolean fst_station_check_records(const gchar *workspace, GError **error);
const gchar *fst_station_default_operator(void);
gboolean fst_station_set_operator(FstStation *self, const gchar *operator_name, GError **error);
const gchar *fst_station_get_operator(FstStation *self);
gboolean fst_station_set_lot(FstStation *self, const gchar *lot, GError **error);
FstStation *fst_station_open(const gchar *workspace, GError **error);
FstStation *fst_station_ref(FstStation *self);
FstStation *
fst_station_open_full(const gchar *workspace, FstInteraction *interaction, GError **error);
FstStation *fst_station_open_as(const gchar *workspace,
                                FstInteraction *interaction,
                                const gchar *operator_name,
                                GError **error);
void fst_station_set_default_interaction(FstInteraction *interaction);
FstInteraction *fst_station_dup_interaction(const gchar *workspace);
FstInteraction *fst_station_ref_interaction(FstStation *self);
gboolean fst_station_ask_ca_secret(const gchar *workspace,
                                   FstInteraction *interaction,
                                   const gchar *key_path,
                                   const gchar *what,
                                   FstSecret **secret,
                                   GError **error);
FstCa *fst_station_unlock_ca(const gchar *workspace, FstInteraction *interaction, GError **error);
void fst_station_unref(FstStation *self);

const gchar *fst_station_get_workspace(FstStation *self);
const gchar *fst_station_get_name(FstStation *self);
gint64 fst_station_get_id(FstStation *self);
FstDb *fst_station_get_db(FstStation *self);
FstCa *fst_station_get_ca(FstStation *self);
FstTrustCatalogue *fst_station_get_trust(FstStation *self);
gchar *fst_station_get_root_ca_path(FstStation *self);
FstProfile *fst_station_load_profile(FstStation *self, const gchar *name, GError **error);
FstProfile *fst_station_find_profile(const gchar *workspace, const gchar *name, GError **error);
gchar *fst_station_get_ca_warning(FstStation *self, const FstProfile *profile);
guint fst_station_ca_check_interval_ms(void);
gchar *fst_station_check_ca_warning(FstStation *self, const FstProfile *profile);

FstKeyPool *fst_station_get_key_pool(FstStation *self, const FstProfile *profile);
gboolean fst_station_prepare_profile(FstStation *self, const FstProfile *profile, GError **error);
gboolean fst_station_connect_issuer(FstStation *self, const FstProfile *profile, GError **error);
gboolean
fst_station_claim_device(FstStation *self, const gchar *uid, const gchar *port, GError **error);
void fst_station_release_device(FstStation *self, const gchar *uid);
FstAwsIot *fst_station_new_aws_issuer(FstStation *self, const FstProfile *profile, GError **error);
FstProfile *fst_station_start_run(FstStation *self,
                                  const gchar *profile_name,
                                  const gchar *lot,
                                  const gchar *operator_name,
                                  GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstStation, fst_station_unref)

G_END_DECLS
