/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The simulator's device HAL: storage in memory and optionally in a file,
 * keys and CSRs from OpenSSL, the UART on a file descriptor.
 *
 * The storage file is a GKeyFile holding base64 objects and the device's
 * private key (PEM); it is written mode 0600 through a temporary file, fsync()
 * and rename(), so a simulated power cut keeps either the old or the new
 * contents, like the atomic swap a real device does.
 */
#define G_LOG_DOMAIN "FstDevsimHal"

#include "fst-devsim-hal.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "fst-device.h"
#include "fst-error.h"
#include "fst-openssl-common.h"
#include "fst-secret.h"

/* 0x01..0x03, 0x10, 0x11, and with two credential slots 0x04, 0x05 */
#define FST_DEVSIM_N_OBJECTS 7

typedef struct {
	guint8 id;
	GByteArray *data;   /* (owned) (nullable): committed bytes */
	GByteArray *staged; /* (owned) (nullable) */
} FstDevsimObject;

struct _FstDevsimHal {
	FstDevHal hal;
	FstDevIdentity identity;
	gchar *uid;          /* (owned) */
	gchar *model;        /* (owned) */
	gchar *firmware;     /* (owned) */
	gchar *storage_path; /* (owned) (nullable) */
	FstDevsimObject objects[FST_DEVSIM_N_OBJECTS];
	guint n_objects;   /* used entries of @objects */
	guint cred_slots;  /* 1, or 2 for A/B */
	guint active_slot; /* the slot the simulated TLS stack uses, persistent */
	/* per credential slot: */
	/* (owned) (nullable): the key of the committed certificate */
	EVP_PKEY *key[FST_FSP_CRED_SLOTS_MAX];
	guint32 key_type[FST_FSP_CRED_SLOTS_MAX];
	/* (owned) (nullable): @key as PEM, made once per key rather than on every
	 * save: OpenSSL 3's encoder lookup costs more than the rest of a save */
	FstSecret *key_pem[FST_FSP_CRED_SLOTS_MAX];
	/* (owned) (nullable): a key from KEYGEN or PUT_KEY, in RAM until the device
	 * certificate that goes with it commits; a failed provisioning (unplug,
	 * reboot, bad hash) thus never leaves a certificate whose key is gone */
	EVP_PKEY *staged_key[FST_FSP_CRED_SLOTS_MAX];
	guint32 staged_key_type[FST_FSP_CRED_SLOTS_MAX];
	int fd;
	guint baud;
	FstDevsimTxFilter tx_filter;
	gpointer tx_filter_data;
	gint n_commits;
	gint n_keygens;
	gboolean locked;
	GByteArray *key_in;      /* (owned) (nullable): PUT_KEY chunks so far, wiped */
	gint64 throttle_us;      /* time spent simulating the wire, not computing */
	gint64 throttle_debt_us; /* slept beyond the wire time, paid back later */
	gboolean signalled;      /* a sleep was cut by a signal: no more sleeps */
	/* faults */
	guint n_writes;
	guint fault_reboot_in_write;
	gboolean reboot_pending;
	guint8 fault_corrupt_object;
	guint32 fault_storage_limit;
	gboolean fault_wrong_key;
	gboolean fault_replay_signature;
	GByteArray *first_signature; /* (owned) (nullable): for fault_replay_signature */
	EVP_PKEY *fault_fixed_key;   /* (owned) (nullable): the key every KEYGEN gives */
};

gboolean
fst_devsim_object_from_name(const gchar *name, guint8 *id)
{
	if (g_strcmp0(name, "device-cert") == 0)
		*id = FST_FSP_OBJ_DEVICE_CERT;
	else if (g_strcmp0(name, "ca-chain") == 0)
		*id = FST_FSP_OBJ_CA_CHAIN;
	else if (g_strcmp0(name, "trust-roots") == 0)
		*id = FST_FSP_OBJ_TRUST_ROOTS;
	else if (g_strcmp0(name, "device-cert-b") == 0)
		*id = FST_FSP_OBJ_DEVICE_CERT_B;
	else if (g_strcmp0(name, "ca-chain-b") == 0)
		*id = FST_FSP_OBJ_CA_CHAIN_B;
	else if (g_strcmp0(name, "csr") == 0)
		*id = FST_FSP_OBJ_CSR;
	else if (g_strcmp0(name, "signature") == 0)
		*id = FST_FSP_OBJ_SIGNATURE;
	else
		return FALSE;
	return TRUE;
}

static FstDevsimObject *
fst_devsim_hal_object(FstDevsimHal *self, guint8 id)
{
	for (guint i = 0; i < self->n_objects; i++) {
		if (self->objects[i].id == id)
			return &self->objects[i];
	}
	return NULL;
}

/* the credential slot whose device certificate object is @id, or -1 */
static gint
fst_devsim_cert_slot(guint8 id)
{
	if (id == FST_FSP_OBJ_DEVICE_CERT)
		return 0;
	if (id == FST_FSP_OBJ_DEVICE_CERT_B)
		return 1;
	return -1;
}

/* the storage file group of slot @slot's key: [key] as before A/B slots */
static const gchar *
fst_devsim_key_group(guint slot)
{
	return slot == 0 ? "key" : "key-b";
}

/* storage file */

/* the key of @slot changed: its PEM is made again at the next save */
static void
fst_devsim_hal_key_changed(FstDevsimHal *self, guint slot)
{
	g_clear_pointer(&self->key_pem[slot], fst_secret_free);
}

static const gchar *
fst_devsim_hal_key_pem(FstDevsimHal *self, guint slot, GError **error)
{
	g_autoptr(BIO) bio = NULL;
	BUF_MEM *mem = NULL;

	if (self->key_pem[slot] != NULL)
		return fst_secret_get_str(self->key_pem[slot]);
	bio = BIO_new(BIO_s_secmem());
	if (bio == NULL ||
	    !PEM_write_bio_PrivateKey(bio, self->key[slot], NULL, NULL, 0, NULL, NULL)) {
		fst_error_set_openssl(error, FST_ERROR_INTERNAL, "cannot encode the device key");
		return NULL;
	}
	BIO_get_mem_ptr(bio, &mem);
	self->key_pem[slot] = fst_secret_new((const guint8 *)mem->data, mem->length);
	return fst_secret_get_str(self->key_pem[slot]);
}

static gboolean
fst_devsim_hal_save(FstDevsimHal *self, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autofree gchar *data = NULL;
	gsize len = 0;
	gboolean ok;

	if (self->storage_path == NULL)
		return TRUE;
	g_key_file_set_string(kf, "device", "uid", self->uid);
	if (self->locked)
		g_key_file_set_boolean(kf, "device", "locked", TRUE);
	/* absent = slot 0, so that a file of a one-slot device looks as before */
	if (self->active_slot != 0)
		g_key_file_set_integer(kf, "device", "active-slot", (gint)self->active_slot);
	for (guint i = 0; i < self->n_objects; i++) {
		FstDevsimObject *obj = &self->objects[i];
		g_autofree gchar *key = g_strdup_printf("%u", obj->id);
		g_autofree gchar *b64 = NULL;
		/* the signature of the last challenge lives in RAM only */
		if (obj->data == NULL || obj->id == FST_FSP_OBJ_SIGNATURE)
			continue;
		b64 = g_base64_encode(obj->data->data, obj->data->len);
		g_key_file_set_string(kf, "objects", key, b64);
	}
	for (guint slot = 0; slot < self->cred_slots; slot++) {
		const gchar *pem;
		if (self->key[slot] == NULL)
			continue;
		pem = fst_devsim_hal_key_pem(self, slot, error);
		if (pem == NULL)
			return FALSE;
		g_key_file_set_string(kf, fst_devsim_key_group(slot), "pem", pem);
		g_key_file_set_string(kf,
		                      fst_devsim_key_group(slot),
		                      "type",
		                      fst_key_type_to_string(self->key_type[slot]));
	}
	data = g_key_file_to_data(kf, &len, error);
	if (data == NULL)
		return FALSE;
	ok = fst_file_set_contents_private(self->storage_path, (const guint8 *)data, len, error);
	/* the text holds the private key */
	OPENSSL_cleanse(data, len);
	if (!ok)
		g_prefix_error(error, "saving the simulated device storage: ");
	return ok;
}

static gboolean
fst_devsim_hal_load(FstDevsimHal *self, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) error_local = NULL;
	gint64 active;

	if (!g_key_file_load_from_file(kf, self->storage_path, G_KEY_FILE_NONE, &error_local)) {
		if (g_error_matches(error_local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			return TRUE; /* a new device */
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "cannot load the simulator storage %s: %s; delete it to start empty",
		            self->storage_path,
		            error_local->message);
		return FALSE;
	}
	self->locked = g_key_file_get_boolean(kf, "device", "locked", NULL);

	/* slot B's data in the file of a one-slot device would be lost by the
	 * next save: refuse rather than forget it */
	active = g_key_file_get_int64(kf, "device", "active-slot", NULL);
	if (self->cred_slots < 2 &&
	    (active != 0 || g_key_file_has_group(kf, fst_devsim_key_group(1)) ||
	     g_key_file_has_key(kf, "objects", "4", NULL) ||
	     g_key_file_has_key(kf, "objects", "5", NULL))) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "the simulator storage %s holds credential slot B; start the device "
		            "with --cred-slots 2 (or cred-slots=2 in its model)",
		            self->storage_path);
		return FALSE;
	}
	if (active < 0 || active >= (gint64)self->cred_slots) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "the simulator storage %s names active slot %" G_GINT64_FORMAT
		            " of %u; delete the file to start empty",
		            self->storage_path,
		            active,
		            self->cred_slots);
		return FALSE;
	}
	self->active_slot = (guint)active;
	for (guint i = 0; i < self->n_objects; i++) {
		FstDevsimObject *obj = &self->objects[i];
		g_autofree gchar *key = g_strdup_printf("%u", obj->id);
		g_autofree gchar *b64 = g_key_file_get_string(kf, "objects", key, NULL);
		g_autofree guint8 *raw = NULL;
		gsize len = 0;
		if (b64 == NULL)
			continue;
		raw = g_base64_decode(b64, &len);
		obj->data = g_byte_array_new();
		g_byte_array_append(obj->data, raw, (guint)len);
	}
	for (guint slot = 0; slot < self->cred_slots; slot++) {
		const gchar *group = fst_devsim_key_group(slot);
		g_autofree gchar *pem = g_key_file_get_string(kf, group, "pem", NULL);
		g_autofree gchar *type = NULL;
		g_autoptr(BIO) bio = NULL;
		if (pem == NULL)
			continue;
		bio = BIO_new_mem_buf(pem, -1);
		type = g_key_file_get_string(kf, group, "type", NULL);
		self->key[slot] = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
		OPENSSL_cleanse(pem, strlen(pem));
		if (self->key[slot] == NULL) {
			fst_error_set_openssl(error,
			                      FST_ERROR_INVALID_DATA,
			                      "the key [%s] in %s is damaged; delete the file to "
			                      "start empty",
			                      group,
			                      self->storage_path);
			return FALSE;
		}
		self->key_type[slot] = fst_key_type_from_string(type);
	}
	return TRUE;
}

/* hal callbacks: each returns an FstFspStatus */

static int
fst_devsim_uart_write(void *user, const uint8_t *buf, size_t len)
{
	FstDevsimHal *self = user;
	g_autoptr(GByteArray) copy = NULL;
	gsize done = 0;

	/* a device that is rebooting says nothing */
	if (self->reboot_pending)
		return 0;
	if (self->tx_filter != NULL) {
		copy = g_byte_array_sized_new((guint)len);
		g_byte_array_append(copy, buf, (guint)len);
		if (!self->tx_filter(copy, self->tx_filter_data))
			return 0;
		buf = copy->data;
		len = copy->len;
	}
	while (done < len) {
		ssize_t n = write(self->fd, buf + done, len - done);
		if (n < 0 && (errno == EINTR))
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = {.fd = self->fd, .events = POLLOUT};
			(void)poll(&pfd, 1, 100);
			continue;
		}
		if (n <= 0) {
			g_debug("uart write failed: %s", g_strerror(errno));
			return -1;
		}
		done += (gsize)n;
	}
	fst_devsim_hal_throttle(self, len);
	return 0;
}

static int
fst_devsim_obj_length(void *user, uint8_t id, uint32_t *len)
{
	FstDevsimObject *obj = fst_devsim_hal_object(user, id);
	if (obj == NULL || obj->data == NULL)
		return FST_FSP_STATUS_NOT_FOUND;
	*len = obj->data->len;
	return FST_FSP_STATUS_OK;
}

static int
fst_devsim_obj_read(void *user, uint8_t id, uint32_t offset, uint8_t *buf, size_t len)
{
	FstDevsimObject *obj = fst_devsim_hal_object(user, id);
	if (obj == NULL || obj->data == NULL)
		return FST_FSP_STATUS_NOT_FOUND;
	if (offset > obj->data->len || len > obj->data->len - offset)
		return FST_FSP_STATUS_BAD_OFFSET;
	memcpy(buf, obj->data->data + offset, len);
	return FST_FSP_STATUS_OK;
}

static int
fst_devsim_obj_digest(void *user, uint8_t id, uint8_t sha256[FST_FSP_SHA256_SIZE])
{
	FstDevsimObject *obj = fst_devsim_hal_object(user, id);
	if (obj == NULL || obj->data == NULL)
		return FST_FSP_STATUS_NOT_FOUND;
	SHA256(obj->data->data, obj->data->len, sha256);
	return FST_FSP_STATUS_OK;
}

/* DIGEST: the committed object as the storage file holds it, read again;
 * objects kept only in RAM (the challenge signature), and every object of a
 * simulator without a file, from RAM */
static int
fst_devsim_obj_rehash(void *user, uint8_t id, uint32_t *len, uint8_t sha256[FST_FSP_SHA256_SIZE])
{
	FstDevsimHal *self = user;
	FstDevsimObject *obj = fst_devsim_hal_object(self, id);
	g_autoptr(GKeyFile) kf = NULL;
	g_autofree gchar *key = NULL;
	g_autofree gchar *b64 = NULL;
	g_autofree guint8 *raw = NULL;
	gsize raw_len = 0;

	if (obj == NULL || obj->data == NULL)
		return FST_FSP_STATUS_NOT_FOUND;
	if (self->storage_path == NULL || id == FST_FSP_OBJ_SIGNATURE) {
		SHA256(obj->data->data, obj->data->len, sha256);
		*len = obj->data->len;
		return FST_FSP_STATUS_OK;
	}
	kf = g_key_file_new();
	if (!g_key_file_load_from_file(kf, self->storage_path, G_KEY_FILE_NONE, NULL))
		return FST_FSP_STATUS_STORAGE_FAILED;
	key = g_strdup_printf("%u", id);
	b64 = g_key_file_get_string(kf, "objects", key, NULL);
	if (b64 == NULL)
		return FST_FSP_STATUS_NOT_FOUND;
	raw = g_base64_decode(b64, &raw_len);
	SHA256(raw, raw_len, sha256);
	*len = (uint32_t)raw_len;
	return FST_FSP_STATUS_OK;
}

static int
fst_devsim_obj_erase(void *user, uint8_t id)
{
	FstDevsimHal *self = user;
	FstDevsimObject *obj = fst_devsim_hal_object(self, id);
	g_autoptr(GByteArray) old = NULL;
	g_autoptr(GError) error = NULL;

	if (obj == NULL)
		return FST_FSP_STATUS_NOT_FOUND;
	old = g_steal_pointer(&obj->data);
	g_clear_pointer(&obj->staged, g_byte_array_unref);
	if (!fst_devsim_hal_save(self, &error)) {
		g_warning("%s", error->message);
		obj->data = g_steal_pointer(&old);
		return FST_FSP_STATUS_STORAGE_FAILED;
	}
	return FST_FSP_STATUS_OK;
}

static int
fst_devsim_stage_begin(void *user, uint8_t id)
{
	FstDevsimObject *obj = fst_devsim_hal_object(user, id);
	if (obj == NULL)
		return FST_FSP_STATUS_NOT_FOUND;
	if (obj->staged != NULL)
		g_byte_array_set_size(obj->staged, 0);
	else
		obj->staged = g_byte_array_new();
	return FST_FSP_STATUS_OK;
}

/* bytes the flash holds now: committed objects, and staging except @skip's */
static guint64
fst_devsim_used(FstDevsimHal *self, guint8 skip)
{
	guint64 used = 0;
	for (guint i = 0; i < self->n_objects; i++) {
		FstDevsimObject *obj = &self->objects[i];
		if (obj->data != NULL && obj->id != FST_FSP_OBJ_SIGNATURE)
			used += obj->data->len;
		if (obj->staged != NULL && obj->id != skip)
			used += obj->staged->len;
	}
	return used;
}

static int
fst_devsim_stage_write(void *user, uint8_t id, uint32_t offset, const uint8_t *buf, size_t len)
{
	FstDevsimHal *self = user;
	FstDevsimObject *obj = fst_devsim_hal_object(self, id);
	if (obj == NULL || obj->staged == NULL)
		return FST_FSP_STATUS_BAD_ARGUMENTS;
	if (offset != obj->staged->len)
		return FST_FSP_STATUS_BAD_OFFSET;

	/* fault: the power goes in the middle of this write; RAM (the staging
	 * areas, the SDK state) is lost, the committed storage stays */
	self->n_writes++;
	if (self->fault_reboot_in_write != 0 && self->n_writes == self->fault_reboot_in_write) {
		g_message("fault: rebooting in write %u (object 0x%02x, offset %u)",
		          self->n_writes,
		          id,
		          offset);
		for (guint i = 0; i < self->n_objects; i++)
			g_clear_pointer(&self->objects[i].staged, g_byte_array_unref);
		for (guint slot = 0; slot < FST_FSP_CRED_SLOTS_MAX; slot++)
			g_clear_pointer(&self->staged_key[slot], EVP_PKEY_free);
		self->reboot_pending = TRUE;
		return FST_FSP_STATUS_INTERNAL;
	}
	/* fault: the flash is smaller than the capacities announced */
	if (self->fault_storage_limit != 0 &&
	    fst_devsim_used(self, id) + obj->staged->len + len > self->fault_storage_limit) {
		g_message("fault: storage full at %u bytes", self->fault_storage_limit);
		return FST_FSP_STATUS_STORAGE_FULL;
	}
	g_byte_array_append(obj->staged, buf, (guint)len);
	return FST_FSP_STATUS_OK;
}

static int
fst_devsim_stage_digest(void *user, uint8_t id, uint32_t len, uint8_t sha256[FST_FSP_SHA256_SIZE])
{
	FstDevsimObject *obj = fst_devsim_hal_object(user, id);
	if (obj == NULL || obj->staged == NULL || obj->staged->len != len)
		return FST_FSP_STATUS_BAD_ARGUMENTS;
	SHA256(obj->staged->data, obj->staged->len, sha256);
	return FST_FSP_STATUS_OK;
}

static int
fst_devsim_stage_commit(void *user, uint8_t id, uint32_t len)
{
	FstDevsimHal *self = user;
	FstDevsimObject *obj = fst_devsim_hal_object(self, id);
	g_autoptr(GByteArray) old = NULL;
	g_autoptr(EVP_PKEY) old_key = NULL;
	guint32 old_key_type = 0;
	gboolean key_moved = FALSE;
	gint slot = fst_devsim_cert_slot(id);
	g_autoptr(GError) error = NULL;

	if (obj == NULL || obj->staged == NULL || obj->staged->len != len)
		return FST_FSP_STATUS_BAD_ARGUMENTS;
	old = g_steal_pointer(&obj->data);
	obj->data = g_steal_pointer(&obj->staged);
	/* the certificate and its key replace the old pair of their slot in one
	 * save; the other slot is not touched */
	if (slot >= 0 && self->staged_key[slot] != NULL) {
		old_key = g_steal_pointer(&self->key[slot]);
		old_key_type = self->key_type[slot];
		self->key[slot] = g_steal_pointer(&self->staged_key[slot]);
		self->key_type[slot] = self->staged_key_type[slot];
		fst_devsim_hal_key_changed(self, (guint)slot);
		key_moved = TRUE;
	}
	/* fault: answers OK but what lands in flash differs from what was checked */
	if (self->fault_corrupt_object == id && obj->data->len > 0) {
		g_message("fault: storing a corrupted copy of object 0x%02x", id);
		obj->data->data[obj->data->len / 2] ^= 0x01;
	}
	if (!fst_devsim_hal_save(self, &error)) {
		g_warning("%s", error->message);
		g_clear_pointer(&obj->data, g_byte_array_unref);
		obj->data = g_steal_pointer(&old);
		if (key_moved) {
			self->staged_key[slot] = g_steal_pointer(&self->key[slot]);
			self->staged_key_type[slot] = self->key_type[slot];
			self->key[slot] = g_steal_pointer(&old_key);
			self->key_type[slot] = old_key_type;
			fst_devsim_hal_key_changed(self, (guint)slot);
		}
		return FST_FSP_STATUS_STORAGE_FAILED;
	}
	g_atomic_int_inc(&self->n_commits);
	g_debug("committed object 0x%02x, %u bytes", id, len);
	return FST_FSP_STATUS_OK;
}

static EVP_PKEY *
fst_devsim_generate_key(guint32 key_type)
{
	switch (key_type) {
	case FST_KEY_TYPE_EC_P256:
		return EVP_EC_gen("P-256");
	case FST_KEY_TYPE_EC_P384:
		return EVP_EC_gen("P-384");
	case FST_KEY_TYPE_EC_P521:
		return EVP_EC_gen("P-521");
	case FST_KEY_TYPE_RSA_2048:
		return EVP_RSA_gen(2048);
	case FST_KEY_TYPE_RSA_3072:
		return EVP_RSA_gen(3072);
	case FST_KEY_TYPE_RSA_4096:
		return EVP_RSA_gen(4096);
	default:
		break;
	}
	return NULL;
}

static GByteArray *
fst_devsim_build_csr(FstDevsimHal *self, EVP_PKEY *key, guint32 key_type)
{
	g_autoptr(X509_REQ) req = X509_REQ_new();
	X509_NAME *name;
	const EVP_MD *md = key_type == FST_KEY_TYPE_EC_P384   ? EVP_sha384()
	                   : key_type == FST_KEY_TYPE_EC_P521 ? EVP_sha512()
	                                                      : EVP_sha256();
	unsigned char *der = NULL;
	int len;
	GByteArray *out;

	if (req == NULL || !X509_REQ_set_version(req, 0))
		return NULL;
	name = X509_REQ_get_subject_name(req);
	if (!X509_NAME_add_entry_by_txt(
	        name, "CN", MBSTRING_ASC, (const unsigned char *)self->uid, -1, -1, 0))
		return NULL;
	if (!X509_REQ_set_pubkey(req, key) || X509_REQ_sign(req, key, md) <= 0)
		return NULL;
	len = i2d_X509_REQ(req, &der);
	if (len <= 0)
		return NULL;
	out = g_byte_array_new();
	g_byte_array_append(out, der, (guint)len);
	OPENSSL_free(der);
	return out;
}

/* the DER SubjectPublicKeyInfo of @key */
static GByteArray *
fst_devsim_build_spki(EVP_PKEY *key)
{
	unsigned char *der = NULL;
	int len = i2d_PUBKEY(key, &der);
	GByteArray *out;

	if (len <= 0)
		return NULL;
	out = g_byte_array_sized_new((guint)len);
	g_byte_array_append(out, der, (guint)len);
	OPENSSL_free(der);
	return out;
}

/* KEYGEN: a new staged key, and its CSR (or bare public key) in object 0x10 */
static int
fst_devsim_keygen_form(
    FstDevsimHal *self, uint8_t slot, uint32_t key_type, gboolean pubkey, uint32_t *out_len)
{
	FstDevsimObject *csr_obj = fst_devsim_hal_object(self, FST_FSP_OBJ_CSR);
	g_autoptr(EVP_PKEY) key = NULL;
	g_autoptr(GByteArray) csr = NULL;
	g_autoptr(GError) error = NULL;
	guint32 *csr_len = out_len;

	if ((self->identity.key_types & key_type) == 0 || slot >= self->cred_slots)
		return FST_FSP_STATUS_UNSUPPORTED;
	if (self->fault_fixed_key != NULL) {
		/* a key generator that is not random: a seed fixed in the
		 * firmware image gives every board the same key */
		g_message("fault: the fixed key instead of a new one");
		key = EVP_PKEY_dup(self->fault_fixed_key);
	} else {
		key = fst_devsim_generate_key(key_type);
	}
	if (key == NULL) {
		g_warning("key generation for %s failed", fst_key_type_to_string(key_type));
		return FST_FSP_STATUS_KEYGEN_FAILED;
	}
	csr = pubkey ? fst_devsim_build_spki(key) : fst_devsim_build_csr(self, key, key_type);
	if (csr == NULL || csr->len > FST_DEVSIM_CAPACITY_CSR) {
		g_warning("building the %s failed", pubkey ? "public key" : "csr");
		return FST_FSP_STATUS_KEYGEN_FAILED;
	}
	/* staged: it replaces the slot's key when its certificate commits */
	EVP_PKEY_free(self->staged_key[slot]);
	self->staged_key[slot] = g_steal_pointer(&key);
	self->staged_key_type[slot] = key_type;
	g_clear_pointer(&csr_obj->data, g_byte_array_unref);
	*csr_len = csr->len;
	csr_obj->data = g_steal_pointer(&csr);
	if (!fst_devsim_hal_save(self, &error)) {
		g_warning("%s", error->message);
		return FST_FSP_STATUS_STORAGE_FAILED;
	}
	g_atomic_int_inc(&self->n_keygens);
	return FST_FSP_STATUS_OK;
}

static int
fst_devsim_keygen(void *user, uint8_t slot, uint32_t key_type, uint32_t *csr_len)
{
	return fst_devsim_keygen_form(user, slot, key_type, FALSE, csr_len);
}

static int
fst_devsim_keygen_pubkey(void *user, uint8_t slot, uint32_t key_type, uint32_t *spki_len)
{
	return fst_devsim_keygen_form(user, slot, key_type, TRUE, spki_len);
}

static int
fst_devsim_sign(void *user, uint8_t slot, const uint8_t *msg, size_t msg_len, uint32_t *sig_len)
{
	FstDevsimHal *self = user;
	FstDevsimObject *sig_obj = fst_devsim_hal_object(self, FST_FSP_OBJ_SIGNATURE);
	g_autoptr(EVP_MD_CTX) md_ctx = NULL;
	g_autoptr(GByteArray) sig = NULL;
	g_autoptr(EVP_PKEY) other = NULL;
	EVP_PKEY *key;
	guint32 key_type;
	size_t len = 0;

	if (slot >= self->cred_slots)
		return FST_FSP_STATUS_UNSUPPORTED;
	/* the key the slot would use next: staged, else its committed key */
	key = self->staged_key[slot] != NULL ? self->staged_key[slot] : self->key[slot];
	key_type =
	    self->staged_key[slot] != NULL ? self->staged_key_type[slot] : self->key_type[slot];
	if (key == NULL)
		return FST_FSP_STATUS_NO_KEY;
	/* fault: a device that does not hold the key its CSR was made with */
	if (self->fault_wrong_key) {
		g_message("fault: signing the challenge with another key");
		other = fst_devsim_generate_key(key_type);
		if (other == NULL)
			return FST_FSP_STATUS_INTERNAL;
		key = other;
	}
	md_ctx = EVP_MD_CTX_new();
	if (md_ctx == NULL || EVP_DigestSignInit(md_ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md_ctx, NULL, &len, msg, msg_len) != 1 ||
	    len > FST_DEVSIM_CAPACITY_SIGNATURE) {
		g_warning("signing the challenge failed");
		return FST_FSP_STATUS_INTERNAL;
	}
	sig = g_byte_array_sized_new((guint)len);
	g_byte_array_set_size(sig, (guint)len);
	if (EVP_DigestSign(md_ctx, sig->data, &len, msg, msg_len) != 1) {
		g_warning("signing the challenge failed");
		return FST_FSP_STATUS_INTERNAL;
	}
	g_byte_array_set_size(sig, (guint)len);
	/* fault: a device (or a man in the middle) that answers with a
	 * signature recorded earlier, over another challenge */
	if (self->fault_replay_signature) {
		if (self->first_signature == NULL) {
			self->first_signature = g_byte_array_sized_new(sig->len);
			g_byte_array_append(self->first_signature, sig->data, sig->len);
		} else {
			g_message("fault: replaying the signature of the first challenge");
			g_byte_array_set_size(sig, 0);
			g_byte_array_append(
			    sig, self->first_signature->data, self->first_signature->len);
			len = sig->len;
		}
	}
	/* volatile: the signature is not written to the storage file */
	g_clear_pointer(&sig_obj->data, g_byte_array_unref);
	sig_obj->data = g_steal_pointer(&sig);
	*sig_len = (uint32_t)len;
	return FST_FSP_STATUS_OK;
}

static void
fst_devsim_key_in_clear(FstDevsimHal *self)
{
	if (self->key_in == NULL)
		return;
	OPENSSL_cleanse(self->key_in->data, self->key_in->len);
	g_clear_pointer(&self->key_in, g_byte_array_unref);
}

/* the key type an EVP_PKEY is, or NONE */
static guint32
fst_devsim_key_type_of(EVP_PKEY *key)
{
	char group[32] = {0};
	size_t group_len = 0;

	if (EVP_PKEY_is_a(key, "RSA")) {
		switch (EVP_PKEY_get_bits(key)) {
		case 2048:
			return FST_KEY_TYPE_RSA_2048;
		case 3072:
			return FST_KEY_TYPE_RSA_3072;
		case 4096:
			return FST_KEY_TYPE_RSA_4096;
		default:
			return FST_KEY_TYPE_NONE;
		}
	}
	if (EVP_PKEY_is_a(key, "EC") &&
	    EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof(group), &group_len) == 1) {
		if (g_strcmp0(group, "prime256v1") == 0 || g_strcmp0(group, "P-256") == 0)
			return FST_KEY_TYPE_EC_P256;
		if (g_strcmp0(group, "secp384r1") == 0 || g_strcmp0(group, "P-384") == 0)
			return FST_KEY_TYPE_EC_P384;
		if (g_strcmp0(group, "secp521r1") == 0 || g_strcmp0(group, "P-521") == 0)
			return FST_KEY_TYPE_EC_P521;
	}
	return FST_KEY_TYPE_NONE;
}

static int
fst_devsim_put_key(void *user,
                   uint8_t slot,
                   uint32_t key_type,
                   uint32_t offset,
                   uint32_t total,
                   const uint8_t *buf,
                   size_t len)
{
	FstDevsimHal *self = user;
	g_autoptr(EVP_PKEY) key = NULL;
	const unsigned char *p;

	if (slot >= self->cred_slots)
		return FST_FSP_STATUS_UNSUPPORTED;
	if (offset == 0) {
		fst_devsim_key_in_clear(self);
		self->key_in = g_byte_array_sized_new(total);
	}
	if (self->key_in == NULL || self->key_in->len != offset)
		return FST_FSP_STATUS_BAD_OFFSET;
	g_byte_array_append(self->key_in, buf, (guint)len);
	if (self->key_in->len < total)
		return FST_FSP_STATUS_OK;

	/* the whole key: parse, check, install, wipe */
	p = self->key_in->data;
	key = d2i_AutoPrivateKey(NULL, &p, (long)self->key_in->len);
	fst_devsim_key_in_clear(self);
	if (key == NULL || fst_devsim_key_type_of(key) != key_type) {
		g_message("put-key: the key does not parse or is not a %s",
		          fst_key_type_to_string(key_type));
		return FST_FSP_STATUS_BAD_KEY;
	}
	EVP_PKEY_free(self->staged_key[slot]);
	self->staged_key[slot] = g_steal_pointer(&key);
	self->staged_key_type[slot] = key_type;
	return FST_FSP_STATUS_OK;
}

static int
fst_devsim_lock(void *user)
{
	FstDevsimHal *self = user;
	g_autoptr(GError) error = NULL;

	self->locked = TRUE;
	if (!fst_devsim_hal_save(self, &error)) {
		g_warning("%s", error->message);
		self->locked = FALSE;
		return FST_FSP_STATUS_STORAGE_FAILED;
	}
	return FST_FSP_STATUS_OK;
}

static int
fst_devsim_is_locked(void *user)
{
	FstDevsimHal *self = user;
	return self->locked ? 1 : 0;
}

/* ACTIVATE: the SDK checked the slot number and that its certificate is
 * there; a slot without a committed key is refused */
static int
fst_devsim_activate(void *user, uint8_t slot)
{
	FstDevsimHal *self = user;
	guint old = self->active_slot;
	g_autoptr(GError) error = NULL;

	if (slot >= self->cred_slots)
		return FST_FSP_STATUS_UNSUPPORTED;
	if (self->key[slot] == NULL)
		return FST_FSP_STATUS_NOT_FOUND;
	if (old == slot)
		return FST_FSP_STATUS_OK;
	self->active_slot = slot;
	if (!fst_devsim_hal_save(self, &error)) {
		g_warning("%s", error->message);
		self->active_slot = old;
		return FST_FSP_STATUS_STORAGE_FAILED;
	}
	g_debug("credential slot %u active", slot);
	return FST_FSP_STATUS_OK;
}

static int
fst_devsim_active_slot(void *user)
{
	FstDevsimHal *self = user;
	return (int)self->active_slot;
}

/**
 * fst_devsim_hal_take_reboot:
 * @self: an #FstDevsimHal
 *
 * Returns: %TRUE once after a simulated reboot: the caller must then reset
 * the SDK context, as a real reboot clears RAM
 */
gboolean
fst_devsim_hal_take_reboot(FstDevsimHal *self)
{
	gboolean pending = self->reboot_pending;
	self->reboot_pending = FALSE;
	return pending;
}

/**
 * fst_devsim_hal_is_locked:
 * @self: an #FstDevsimHal
 *
 * Returns: %TRUE once LOCK was executed (kept in the storage file)
 */
gboolean
fst_devsim_hal_is_locked(FstDevsimHal *self)
{
	return self->locked;
}

/**
 * fst_devsim_hal_get_throttle_us:
 * @self: an #FstDevsimHal
 *
 * Returns: the time spent sleeping for the simulated wire so far
 */
gint64
fst_devsim_hal_get_throttle_us(FstDevsimHal *self)
{
	return self->throttle_us;
}

/**
 * fst_devsim_hal_throttle:
 * @self: an #FstDevsimHal
 * @n_bytes: bytes just moved
 *
 * Sleeps for the wire time of @n_bytes at the configured baud rate (10 bits
 * per byte: start, 8 data, stop); nothing when unthrottled. A sleep that
 * overruns (a busy machine) is paid back from the next ones, so that the
 * simulated line keeps its rate over a session instead of drifting slower.
 */
void
fst_devsim_hal_throttle(FstDevsimHal *self, gsize n_bytes)
{
	gint64 want;
	gint64 start;
	gint64 slept;

	if (self->baud == 0 || n_bytes == 0 || self->signalled)
		return;
	want = (gint64)((guint64)n_bytes * 10u * G_USEC_PER_SEC / self->baud);
	self->throttle_debt_us -= want;
	start = g_get_monotonic_time();
	if (self->throttle_debt_us < 0) {
		struct timespec ts = {
		    .tv_sec = (time_t)(-self->throttle_debt_us / G_USEC_PER_SEC),
		    .tv_nsec = (long)(-self->throttle_debt_us % G_USEC_PER_SEC) * 1000,
		};
		/* the only signals the simulator handles stop it (SIGTERM,
		 * SIGINT): it stops now, not after a long frame's wire time at a
		 * slow rate (157 bytes at 300 baud are 5 s) */
		if (nanosleep(&ts, NULL) != 0 && errno == EINTR)
			self->signalled = TRUE;
	}
	slept = g_get_monotonic_time() - start;
	/* pay back at most one frame's worth, so that the line stays realistic */
	self->throttle_debt_us = MIN(self->throttle_debt_us + slept, 10 * G_TIME_SPAN_MILLISECOND);
	self->throttle_us += slept;
}

/**
 * fst_devsim_hal_warm_up:
 *
 * Does once, at power-on, what OpenSSL would otherwise do on the first
 * KEYGEN: read its configuration, load the default provider, seed its random
 * generators, look up the EC, ECDSA and SHA-256 code and the encoders and
 * decoders of keys (about 3 ms of CPU, against 0.3 ms for a KEYGEN and its
 * CSR afterwards). A real device has its crypto ready when it reaches the fixture; without
 * this, that set-up would run while the station waits for the CSR, on the
 * same cores as the other simulated devices and the station. Nothing is
 * kept: the key made here is thrown away.
 *
 * Returns: %TRUE on success; %FALSE means OpenSSL does not work, and KEYGEN
 * would fail too
 */
gboolean
fst_devsim_hal_warm_up(void)
{
	const guint8 msg[] = "warm-up";
	guint8 sig[256];
	size_t sig_len = sizeof(sig);
	g_autoptr(EVP_PKEY) key = NULL;
	g_autoptr(EVP_MD_CTX) md_ctx = NULL;
	g_autoptr(X509_REQ) req = NULL;
	g_autoptr(BIO) bio = NULL;

	if (OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL) != 1)
		return FALSE;
	key = EVP_EC_gen("P-256");
	md_ctx = EVP_MD_CTX_new();
	req = X509_REQ_new();
	bio = BIO_new(BIO_s_secmem());
	if (key == NULL || md_ctx == NULL || req == NULL || bio == NULL ||
	    X509_REQ_set_pubkey(req, key) != 1 ||
	    !PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) ||
	    EVP_DigestSignInit(md_ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md_ctx, sig, &sig_len, msg, sizeof(msg)) != 1)
		return FALSE;
	return TRUE;
}

/**
 * fst_devsim_hal_new:
 * @config: what the device looks like
 * @error: (nullable): return location
 *
 * Makes the HAL and loads the storage file, if any.
 *
 * Returns: (transfer full): a new HAL, or %NULL when the storage file cannot
 * be read
 */
FstDevsimHal *
fst_devsim_hal_new(const FstDevsimConfig *config, GError **error)
{
	g_autoptr(FstDevsimHal) self = g_new0(FstDevsimHal, 1);
	const guint8 ids[FST_DEVSIM_N_OBJECTS] = {FST_FSP_OBJ_DEVICE_CERT,
	                                          FST_FSP_OBJ_CA_CHAIN,
	                                          FST_FSP_OBJ_TRUST_ROOTS,
	                                          FST_FSP_OBJ_CSR,
	                                          FST_FSP_OBJ_SIGNATURE,
	                                          FST_FSP_OBJ_DEVICE_CERT_B,
	                                          FST_FSP_OBJ_CA_CHAIN_B};
	/* slot B has the capacities of slot A */
	const guint32 caps[FST_DEVSIM_N_OBJECTS] = {config->capacity_cert,
	                                            config->capacity_chain,
	                                            config->capacity_roots,
	                                            FST_DEVSIM_CAPACITY_CSR,
	                                            FST_DEVSIM_CAPACITY_SIGNATURE,
	                                            config->capacity_cert,
	                                            config->capacity_chain};

	if (config->cred_slots > FST_FSP_CRED_SLOTS_MAX) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "a simulated device has 1 or %u credential slots, not %u",
		            FST_FSP_CRED_SLOTS_MAX,
		            config->cred_slots);
		return NULL;
	}
	self->cred_slots = config->cred_slots > 1 ? config->cred_slots : 1;
	self->n_objects = self->cred_slots > 1 ? FST_DEVSIM_N_OBJECTS : FST_DEVSIM_N_OBJECTS - 2;
	self->fd = -1;
	self->uid = g_strdup(config->uid);
	self->model = g_strdup(config->model != NULL ? config->model : "devsim-ecc");
	self->firmware = g_strdup(config->firmware != NULL ? config->firmware : "1.0.0");
	self->storage_path = g_strdup(config->storage_path);
	self->baud = config->baud;
	for (guint i = 0; i < self->n_objects; i++) {
		self->objects[i].id = ids[i];
		self->identity.objects[i].id = ids[i];
		self->identity.objects[i].capacity = caps[i];
		self->identity.objects[i].flags =
		    ids[i] >= FST_FSP_OBJ_CSR ? FST_FSP_OBJ_FLAG_READ_ONLY : 0;
	}
	self->identity.n_objects = (uint8_t)self->n_objects;
	self->identity.cred_slots = (uint8_t)self->cred_slots;
	self->identity.uid = self->uid;
	self->identity.model = self->model;
	self->identity.firmware = self->firmware;
	self->identity.key_types = config->key_types;
	self->identity.validation = config->validation;
	self->identity.caps = FST_FSP_CAP_SIGN | FST_FSP_CAP_LOCK;
	if (config->key_types != 0)
		self->identity.caps |= config->no_csr        ? FST_FSP_CAP_PUT_KEY
		                       : config->pubkey_only ? FST_FSP_CAP_PUBKEY
		                                             : FST_FSP_CAP_CSR | FST_FSP_CAP_PUBKEY;
	self->fault_reboot_in_write = config->fault_reboot_in_write;
	self->fault_corrupt_object = config->fault_corrupt_object;
	self->fault_storage_limit = config->fault_storage_limit;
	self->fault_wrong_key = config->fault_wrong_key;
	self->fault_replay_signature = config->fault_replay_signature;
	if (config->fault_fixed_key != NULL) {
		g_autoptr(BIO) bio = BIO_new_file(config->fault_fixed_key, "r");
		self->fault_fixed_key =
		    bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
		if (self->fault_fixed_key == NULL) {
			ERR_clear_error();
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CONFIG,
			            "--fault-fixed-key: %s is not a PEM private key",
			            config->fault_fixed_key);
			return NULL;
		}
	}
	if (!config->no_nak)
		self->identity.caps |= FST_FSP_CAP_NAK;
	if (!config->no_digest)
		self->identity.caps |= FST_FSP_CAP_DIGEST;
	self->identity.version_max = (uint8_t)MIN(config->version_max, 15u);
	self->identity.format = config->format;
	self->identity.max_payload = 0;

	self->hal.user = self;
	self->hal.uart_write = fst_devsim_uart_write;
	self->hal.obj_length = fst_devsim_obj_length;
	self->hal.obj_read = fst_devsim_obj_read;
	self->hal.obj_digest = fst_devsim_obj_digest;
	self->hal.obj_erase = fst_devsim_obj_erase;
	self->hal.obj_rehash = fst_devsim_obj_rehash;
	self->hal.stage_begin = fst_devsim_stage_begin;
	self->hal.stage_write = fst_devsim_stage_write;
	self->hal.stage_digest = fst_devsim_stage_digest;
	self->hal.stage_commit = fst_devsim_stage_commit;
	self->hal.keygen_pubkey = fst_devsim_keygen_pubkey;
	self->hal.keygen = fst_devsim_keygen;
	self->hal.sign = fst_devsim_sign;
	self->hal.put_key = fst_devsim_put_key;
	self->hal.lock = fst_devsim_lock;
	self->hal.is_locked = fst_devsim_is_locked;
	self->hal.activate = fst_devsim_activate;
	self->hal.active_slot = fst_devsim_active_slot;

	if (self->storage_path != NULL && !fst_devsim_hal_load(self, error))
		return NULL;
	return g_steal_pointer(&self);
}

void
fst_devsim_hal_free(FstDevsimHal *self)
{
	if (self == NULL)
		return;
	for (guint i = 0; i < FST_DEVSIM_N_OBJECTS; i++) {
		if (self->objects[i].data != NULL)
			g_byte_array_unref(self->objects[i].data);
		if (self->objects[i].staged != NULL)
			g_byte_array_unref(self->objects[i].staged);
	}
	for (guint slot = 0; slot < FST_FSP_CRED_SLOTS_MAX; slot++) {
		EVP_PKEY_free(self->key[slot]);
		EVP_PKEY_free(self->staged_key[slot]);
		fst_devsim_hal_key_changed(self, slot);
	}
	fst_devsim_key_in_clear(self);
	if (self->first_signature != NULL)
		g_byte_array_unref(self->first_signature);
	EVP_PKEY_free(self->fault_fixed_key);
	g_free(self->uid);
	g_free(self->model);
	g_free(self->firmware);
	g_free(self->storage_path);
	g_free(self);
}

/**
 * fst_devsim_hal_get_hal:
 * @self: an #FstDevsimHal
 *
 * Returns: (transfer none): the callbacks to pass to fst_dev_init()
 */
const FstDevHal *
fst_devsim_hal_get_hal(FstDevsimHal *self)
{
	return &self->hal;
}

/**
 * fst_devsim_hal_get_identity:
 * @self: an #FstDevsimHal
 *
 * Returns: (transfer none): the identity to pass to fst_dev_init(); tests may
 * change it before that, e.g. to announce a capacity the storage lacks
 */
FstDevIdentity *
fst_devsim_hal_get_identity(FstDevsimHal *self)
{
	return &self->identity;
}

void
fst_devsim_hal_set_fd(FstDevsimHal *self, int fd)
{
	self->fd = fd;
}

void
fst_devsim_hal_set_tx_filter(FstDevsimHal *self, FstDevsimTxFilter filter, gpointer user_data)
{
	self->tx_filter = filter;
	self->tx_filter_data = user_data;
}

/**
 * fst_devsim_hal_get_object:
 * @self: an #FstDevsimHal
 * @id: an FSP object id
 *
 * Returns: (transfer full) (nullable): the committed bytes, or %NULL
 */
GBytes *
fst_devsim_hal_get_object(FstDevsimHal *self, guint8 id)
{
	FstDevsimObject *obj = fst_devsim_hal_object(self, id);
	if (obj == NULL || obj->data == NULL)
		return NULL;
	return g_bytes_new(obj->data->data, obj->data->len);
}

guint
fst_devsim_hal_get_commit_count(FstDevsimHal *self)
{
	return (guint)g_atomic_int_get(&self->n_commits);
}

guint
fst_devsim_hal_get_keygen_count(FstDevsimHal *self)
{
	return (guint)g_atomic_int_get(&self->n_keygens);
}

/**
 * fst_devsim_hal_get_active_slot:
 * @self: an #FstDevsimHal
 *
 * Returns: the credential slot the simulated TLS stack uses (kept in the
 * storage file)
 */
guint
fst_devsim_hal_get_active_slot(FstDevsimHal *self)
{
	return self->active_slot;
}

/**
 * fst_devsim_hal_get_cred_slots:
 * @self: an #FstDevsimHal
 *
 * Returns: 1, or 2 for a device with A/B credential slots
 */
guint
fst_devsim_hal_get_cred_slots(FstDevsimHal *self)
{
	return self->cred_slots;
}

/**
 * fst_devsim_hal_get_public_key:
 * @self: an #FstDevsimHal
 * @slot: a credential slot
 * @staged: the staged key of @slot rather than its committed key
 *
 * For tests and --dump: which key a slot holds, without its secret.
 *
 * Returns: (transfer full) (nullable): the DER SubjectPublicKeyInfo, or
 * %NULL when the slot has no such key
 */
GBytes *
fst_devsim_hal_get_public_key(FstDevsimHal *self, guint slot, gboolean staged)
{
	EVP_PKEY *key;
	g_autoptr(GByteArray) spki = NULL;

	if (slot >= self->cred_slots)
		return NULL;
	key = staged ? self->staged_key[slot] : self->key[slot];
	if (key == NULL)
		return NULL;
	spki = fst_devsim_build_spki(key);
	if (spki == NULL)
		return NULL;
	return g_byte_array_free_to_bytes(g_steal_pointer(&spki));
}

/**
 * fst_devsim_hal_get_key_type:
 * @self: an #FstDevsimHal
 * @slot: a credential slot
 *
 * Returns: the #FstKeyType of the committed key of @slot, or
 * %FST_KEY_TYPE_NONE when it has none
 */
guint32
fst_devsim_hal_get_key_type(FstDevsimHal *self, guint slot)
{
	if (slot >= self->cred_slots || self->key[slot] == NULL)
		return FST_KEY_TYPE_NONE;
	return self->key_type[slot];
}
