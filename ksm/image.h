/* image.h - the engine's side of snapshot images (API and contract: ksm/ksm.h). */
#ifndef KSM_IMAGE_H
#define KSM_IMAGE_H

struct ksm;

/* Free every image not yet put (engine teardown: the pool goes with it, nothing is
 * unpinned). Caller holds k->lock or is the only user left. */
void ksm_image_free_all(struct ksm *k);

#endif
