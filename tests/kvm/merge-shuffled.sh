# merge-shuffled.sh - the same fleet with the identical pages at different guest-physical
# addresses in every guest (64 KiB extents shuffled per guest).
source "$(dirname "$0")/../lib/kvm.sh"

merge_test 4 --count 4 --mem 256M --guest workload \
	--profile shared=50,zero=10,placement=shuffled
echo "shuffled merge test ok"
