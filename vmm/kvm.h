/* kvm.h - the process-wide /dev/kvm handle and what it supports. */
#ifndef VMM_KVM_H
#define VMM_KVM_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>

/* Where /dev/kvm is; the KSMVMM_KVM_DEVICE environment variable overrides it (tests). */
const char *kvm_device_path(void);

/* Open /dev/kvm and check the API version and the capabilities we need. Returns the fd
 * or -errno after printing one clear error. Call once, before any other kvm_*. */
int kvm_open(void);

/* The fd from kvm_open. */
int kvm_fd(void);

/* Size of each vCPU's kvm_run mapping. */
size_t kvm_run_size(void);

/* CPUID entries KVM supports (read once at kvm_open). */
const struct kvm_cpuid2 *kvm_supported_cpuid(void);

/* True if the host CPU (as KVM reports it) can run AVX at CPL3 with XSAVE enabled. */
bool kvm_has_avx(void);

void kvm_close(void);

#endif
