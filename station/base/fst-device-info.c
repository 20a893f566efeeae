/* SPDX-License-Identifier: Apache-2.0 */
#define G_LOG_DOMAIN "FstDeviceInfo"

#include "fst-device-info.h"

static const struct {
	FstKeyType type;
	const gchar *name;
} fst_key_type_names[] = {
    {FST_KEY_TYPE_EC_P256, "ec-p256"},
    {FST_KEY_TYPE_EC_P384, "ec-p384"},
    {FST_KEY_TYPE_EC_P521, "ec-p521"},
    {FST_KEY_TYPE_RSA_2048, "rsa-2048"},
    {FST_KEY_TYPE_RSA_3072, "rsa-3072"},
    {FST_KEY_TYPE_RSA_4096, "rsa-4096"},
};

/**
 * fst_key_type_to_string:
 * @key_type: a single #FstKeyType
 *
 * Returns: (transfer none): its name as used in profiles and the database,
 * e.g. "ec-p256", or "unknown"
 */
const gchar *
fst_key_type_to_string(FstKeyType key_type)
{
	for (guint i = 0; i < G_N_ELEMENTS(fst_key_type_names); i++) {
		if (fst_key_type_names[i].type == key_type)
			return fst_key_type_names[i].name;
	}
	return "unknown";
}

/**
 * fst_key_type_from_string:
 * @str: a key type name, e.g. "rsa-2048"
 *
 * Returns: the #FstKeyType, or %FST_KEY_TYPE_NONE if @str names none
 */
FstKeyType
fst_key_type_from_string(const gchar *str)
{
	for (guint i = 0; i < G_N_ELEMENTS(fst_key_type_names); i++) {
		if (g_strcmp0(fst_key_type_names[i].name, str) == 0)
			return fst_key_type_names[i].type;
	}
	return FST_KEY_TYPE_NONE;
}

/**
 * fst_key_types_to_string:
 * @key_types: #FstKeyType flags
 *
 * Returns: (transfer full): a comma-separated list, e.g. "ec-p256,ec-p384"
 */
gchar *
fst_key_types_to_string(guint key_types)
{
	g_autoptr(GString) str = g_string_new(NULL);
	for (guint i = 0; i < G_N_ELEMENTS(fst_key_type_names); i++) {
		if ((key_types & fst_key_type_names[i].type) == 0)
			continue;
		if (str->len > 0)
			g_string_append_c(str, ',');
		g_string_append(str, fst_key_type_names[i].name);
	}
	return g_string_free(g_steal_pointer(&str), FALSE);
}

/**
 * fst_validation_to_string:
 * @validation: #FstValidation flags
 *
 * Returns: (transfer full): a comma-separated list, e.g. "rsa,ecdsa-p256"
 */
gchar *
fst_validation_to_string(guint validation)
{
	g_autoptr(GString) str = g_string_new(NULL);
	if (validation & FST_VALIDATION_RSA_PKCS1)
		g_string_append(str, "rsa,");
	if (validation & FST_VALIDATION_ECDSA_P256)
		g_string_append(str, "ecdsa-p256,");
	if (validation & FST_VALIDATION_ECDSA_P384)
		g_string_append(str, "ecdsa-p384,");
	if (str->len > 0)
		g_string_truncate(str, str->len - 1);
	return g_string_free(g_steal_pointer(&str), FALSE);
}

/**
 * fst_object_kind_to_string:
 * @kind: an #FstObjectKind
 *
 * Returns: (transfer none): its name, e.g. "device-cert"
 */
const gchar *
fst_object_kind_to_string(FstObjectKind kind)
{
	switch (kind) {
	case FST_OBJECT_DEVICE_CERT:
		return "device-cert";
	case FST_OBJECT_CA_CHAIN:
		return "ca-chain";
	case FST_OBJECT_TRUST_ROOTS:
		return "trust-roots";
	case FST_OBJECT_LAST:
	default:
		break;
	}
	return "unknown";
}

/**
 * fst_device_info_copy:
 * @info: an #FstDeviceInfo
 *
 * Returns: (transfer full): a deep copy
 */
FstDeviceInfo *
fst_device_info_copy(const FstDeviceInfo *info)
{
	FstDeviceInfo *copy = g_new0(FstDeviceInfo, 1);
	*copy = *info;
	copy->uid = g_strdup(info->uid);
	copy->model = g_strdup(info->model);
	copy->firmware = g_strdup(info->firmware);
	return copy;
}

void
fst_device_info_free(FstDeviceInfo *info)
{
	if (info == NULL)
		return;
	g_free(info->uid);
	g_free(info->model);
	g_free(info->firmware);
	g_free(info);
}
