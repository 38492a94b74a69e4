package missions

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/burgut-uav/burgut/internal/testenv"
)

func sharedAreas(t *testing.T) map[string]*Area {
	t.Helper()
	dir := testenv.Shared(t, "data/areas")
	files, err := filepath.Glob(filepath.Join(dir, "*.geojson"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no areas in %s: %v", dir, err)
	}
	out := map[string]*Area{}
	for _, f := range files {
		out[filepath.Base(f)] = mustImport(t, f)
	}
	return out
}

func mustImport(t testing.TB, path string) *Area {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	a, err := ImportGeoJSON(fh)
	if err != nil {
		t.Fatalf("import %s: %v", path, err)
	}
	return a
}

func TestImportSharedAreas(t *testing.T) {
	for name, a := range sharedAreas(t) {
		if len(a.Include) == 0 || len(a.Launch) == 0 || a.MinAlt >= a.MaxAlt || a.Starts.IsZero() {
			t.Errorf("%s: incomplete import: %+v", name, a)
		}
		for _, p := range a.Include {
			if signedArea(p[0]) <= 0 {
				t.Errorf("%s: shell not counter-clockwise after import", name)
			}
			for _, h := range p[1:] {
				if signedArea(h) >= 0 {
					t.Errorf("%s: hole not clockwise after import", name)
				}
			}
		}
		t.Logf("%s: %d polygons, %d no-fly, %d launch, %d rally, %d routes, alt %g-%g", name, len(a.Include), len(a.NoFly), len(a.Launch), len(a.Rally), len(a.Routes), a.MinAlt, a.MaxAlt)
	}
}
