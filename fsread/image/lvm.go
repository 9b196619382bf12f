package image

import (
	"fmt"
	"strings"

	"github.com/snapscan/snapscan/fsread/detect"
	"github.com/snapscan/snapscan/fsread/lvm"
	"github.com/snapscan/snapscan/fsread/partition"
)

// lvIndexBase numbers logical volumes after any partition number, so that
// IMAGE@101 addresses the first LV as IMAGE@2 addresses partition 2.
const lvIndexBase = 100

// addLogicalVolumes maps the LVM2 physical volumes found among the volumes
// to their volume groups (a VG may span several partitions of the image)
// and adds each logical volume as a volume of its own.
func (img *Image) addLogicalVolumes() {
	type group struct {
		disks []lvm.Disk
		pvs   []*Volume
	}
	groups := map[string]*group{}
	var order []string
	for _, v := range img.Volumes {
		if v.Detect.Kind != detect.LVM2 {
			continue
		}
		vg, err := lvm.Open(v.r, v.Size)
		if err != nil {
			v.Reason = "LVM2 physical volume whose metadata cannot be read: " + err.Error()
			continue
		}
		g := groups[vg.UUID]
		if g == nil {
			g = &group{}
			groups[vg.UUID] = g
			order = append(order, vg.UUID)
		}
		g.disks = append(g.disks, lvm.Disk{ReaderAt: v.r, Size: v.Size})
		g.pvs = append(g.pvs, v)
	}
	next := lvIndexBase + 1
	for _, id := range order {
		g := groups[id]
		vg, err := lvm.OpenDisks(g.disks...)
		if err != nil {
			for _, pv := range g.pvs {
				pv.Reason = "LVM2 physical volume whose volume group cannot be read: " + err.Error()
			}
			continue
		}
		var names []string
		for _, lv := range vg.LVs {
			names = append(names, vg.Name+"/"+lv.Name)
		}
		for _, pv := range g.pvs {
			pv.HoldsVolumes = true
			pv.Reason = fmt.Sprintf("LVM2 physical volume of volume group %s: its logical volumes are scanned as volumes of their own (%s)", vg.Name, strings.Join(names, ", "))
		}
		for _, note := range vg.Notes {
			img.Warnings = append(img.Warnings, "LVM "+vg.Name+": "+note)
		}
		for _, lv := range vg.LVs {
			part := &partition.Partition{
				Index: next, Size: lv.Size, Type: "lvm2-lv", TypeName: "LVM2 logical volume",
				Name: vg.Name + "/" + lv.Name, GUID: strings.ToLower(lv.UUID),
			}
			next++
			if !lv.Supported {
				v := &Volume{Index: part.Index, Size: lv.Size, Part: part, img: img, Detect: detect.Result{Kind: detect.Unknown},
					Name: img.baseName() + "@" + part.Name, Reason: "LVM2 logical volume: " + lv.Reason}
				img.Volumes = append(img.Volumes, v)
				continue
			}
			res, err := detect.Probe(lv.ReaderAt, lv.Size)
			if err != nil {
				img.Warnings = append(img.Warnings, fmt.Sprintf("LV %s: %v", part.Name, err))
			}
			v := img.addVolumeOn(lv.ReaderAt, part.Index, 0, lv.Size, part, res)
			v.Name = img.baseName() + "@" + part.Name
		}
	}
}

// mapperName is the name device-mapper gives an LV (/dev/mapper/vg-lv),
// with hyphens inside either name doubled.
func mapperName(vg, lv string) string {
	return strings.ReplaceAll(vg, "-", "--") + "-" + strings.ReplaceAll(lv, "-", "--")
}

// LVMapperName returns the /dev/mapper name of a volume that is an LVM
// logical volume, or "".
func (v *Volume) LVMapperName() string {
	if v.Part == nil || v.Part.Type != "lvm2-lv" {
		return ""
	}
	vg, lv, _ := strings.Cut(v.Part.Name, "/")
	return mapperName(vg, lv)
}
