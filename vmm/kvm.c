/* kvm.c - open /dev/kvm once for the whole fleet and cache what every VM needs from it. */
#define pr_fmt(fmt) "kvm: " fmt
#include "vmm/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "lib/log.h"

#define MAX_CPUID_ENTRIES 128

static int kvm = -1;
static size_t run_size;
static struct kvm_cpuid2 *cpuid;

const char *kvm_device_path(void)
{
	const char *p = getenv("KSMVMM_KVM_DEVICE");

	return p && *p ? p : "/dev/kvm";
}

static int read_cpuid(void)
{
	cpuid = calloc(1, sizeof(*cpuid) + MAX_CPUID_ENTRIES * sizeof(cpuid->entries[0]));
	if (!cpuid)
		return -ENOMEM;
	cpuid->nent = MAX_CPUID_ENTRIES;
	if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, cpuid) < 0)
		return -errno;
	return 0;
}

static int check_kvm(void)
{
	int v = ioctl(kvm, KVM_GET_API_VERSION, 0);
	long sz;

	if (v != KVM_API_VERSION) {
		pr_err("%s speaks KVM API %d, we need %d", kvm_device_path(), v, KVM_API_VERSION);
		return -ENOTSUP;
	}
	if (ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) <= 0) {
		pr_err("%s lacks KVM_CAP_USER_MEMORY", kvm_device_path());
		return -ENOTSUP;
	}
	sz = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (sz <= 0) {
		int err = errno;

		pr_err("KVM_GET_VCPU_MMAP_SIZE failed: %s", strerror(err));
		return -ENOTSUP;
	}
	run_size = (size_t) sz;
	return read_cpuid();
}

int kvm_open(void)
{
	const char *path = kvm_device_path();
	int ret;

	kvm = open(path, O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		ret = -errno;
		pr_err("cannot open %s: %s (is KVM enabled and are you allowed to use it?)", path,
		       strerror(-ret));
		return ret;
	}
	ret = check_kvm();
	if (ret) {
		if (ret != -ENOTSUP)
			pr_err("%s: %s", path, strerror(-ret));
		kvm_close();
		return ret;
	}
	return kvm;
}

int kvm_fd(void)
{
	return kvm;
}

size_t kvm_run_size(void)
{
	return run_size;
}

const struct kvm_cpuid2 *kvm_supported_cpuid(void)
{
	return cpuid;
}

bool kvm_has_avx(void)
{
	for (unsigned i = 0; cpuid && i < cpuid->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		if (e->function == 1)
			return (e->ecx & (1u << 26)) && (e->ecx & (1u << 28));
	}
	return false;
}

void kvm_close(void)
{
	if (kvm >= 0)
		close(kvm);
	kvm = -1;
	free(cpuid);
	cpuid = NULL;
}
