# merge.sh - 4 x 256 MiB, 50% identical across the fleet + 10% zero + 40% unique: the
# engine reaches 95% of the ideal merges, the host's accounting (Pss) drops by 90% of
# the ideal saving, and every guest still verifies bad=0.
source "$(dirname "$0")/../lib/kvm.sh"

merge_test 4 --count 4 --mem 256M --guest workload --profile shared=50,zero=10
echo "merge test ok"
