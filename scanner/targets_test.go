package scanner

import (
	"testing"

	"github.com/snapscan/snapscan/fsread/detect"
	"github.com/snapscan/snapscan/fsread/image"
	"github.com/snapscan/snapscan/fsread/partition"
)

func TestResolveFstabSpec(t *testing.T) {
	vols := []*openVolume{
		{vol: &image.Volume{Index: 1, Part: &partition.Partition{Index: 1, Name: "EFI", GUID: "aaaa-1"}, Detect: detect.Result{Kind: detect.FAT, Label: "EFI", UUID: "4EDD-5B17"}}},
		{vol: &image.Volume{Index: 2, Part: &partition.Partition{Index: 2, Name: "root", GUID: "bbbb-2"}, Detect: detect.Result{Kind: detect.Ext4, Label: "rootfs", UUID: "9dae0588-d717"}}},
		{vol: &image.Volume{Index: 101, Part: &partition.Partition{Index: 101, Type: "lvm2-lv", Name: "vg-sys/home-lv"}, Detect: detect.Result{Kind: detect.Ext4, Label: "home"}}},
	}
	for _, tc := range []struct {
		spec string
		want int // volume index, 0 for none
	}{
		{"LABEL=rootfs", 2},
		{"UUID=9DAE0588-D717", 2},
		{`LABEL="EFI"`, 1},
		{"PARTLABEL=root", 2},
		{"PARTUUID=BBBB-2", 2},
		{"/dev/disk/by-label/home", 101},
		{"/dev/disk/by-uuid/4EDD-5B17", 1},
		{"/dev/sda2", 2},
		{"/dev/nvme0n1p1", 1},
		{"/dev/mapper/vg--sys-home--lv", 101},
		{"/dev/vg-sys/home-lv", 101},
		{"/dev/sda101", 0}, // an LV is not partition 101 of a disk
		{"LABEL=nope", 0},
		{"server:/export", 0},
	} {
		v, _ := resolveSpec(tc.spec, vols)
		got := 0
		if v != nil {
			got = v.vol.Index
		}
		if got != tc.want {
			t.Errorf("%s: volume %d, want %d", tc.spec, got, tc.want)
		}
	}
}

func TestParseFstab(t *testing.T) {
	data := []byte("# comment\nLABEL=root / ext4 defaults 0 1\nLABEL=home /home ext4 defaults 0 2\nproc /proc proc defaults 0 0\n" +
		"/dev/sdb1 none swap sw 0 0\n/srv/data /data none bind 0 0\nLABEL=x /mnt/my\\040disk ext4 defaults 0 2\nshort line\n")
	got := parseFstab(data)
	if len(got) != 2 || got[0].MountPoint != "/home" || got[0].Line != 3 || got[1].MountPoint != "/mnt/my disk" {
		t.Errorf("got %+v", got)
	}
}
