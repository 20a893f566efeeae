#pragma once

#include <glib.h>

#include "fst-device.h"
#include "fst-trust.h"

G_BEGIN_DECLS

/**
 * FstKeySource:
 * @FST_KEY_SOURCE_DEVICE_CSR: the device generates its key and sends a CSR
 *
 * Where the device key comes from. (Public-key-with-challenge and
 * station-generated keys are planned; see issue 3.)
 */
typedef enum {
	FST_KEY_SOURCE_DEVICE_CSR,
} FstKeySource;

typedef struct _FstProfile FstProfile;

FstProfile *
fst_profile_load(const gchar *path, GError **error);
FstProfile *
fst_profile_find(const gchar *templates_dir, const gchar *name, GError **error);
void
fst_profile_free(FstProfile *self);

const gchar *
fst_profile_get_name(const FstProfile *self);
const gchar *
fst_profile_get_path(const FstProfile *self);
const gchar *
fst_profile_get_content_sha256(const FstProfile *self);
const gchar *
fst_profile_get_description(const FstProfile *self);
gboolean
fst_profile_is_thing_name(const gchar *str);
gboolean
fst_profile_check_device(const FstProfile *self, const FstDeviceInfo *info, GError **error);
FstKeySource
fst_profile_get_key_source(const FstProfile *self);
FstKeyType
fst_profile_choose_key_type(const FstProfile *self, const FstDeviceInfo *info, GError **error);
guint
fst_profile_get_allowed_key_types(const FstProfile *self);
gchar *
fst_profile_render_subject_cn(const FstProfile *self, const FstDeviceInfo *info, GError **error);
const gchar *
fst_profile_get_subject_organization(const FstProfile *self);
guint
fst_profile_get_validity_days(const FstProfile *self);
gboolean
fst_profile_get_append_ca(const FstProfile *self);
const FstTrustOptions *
fst_profile_get_trust_options(const FstProfile *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstProfile, fst_profile_free)

G_END_DECLS
