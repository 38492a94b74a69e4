package session

import (
	"reflect"
	"testing"
)

// Zero fields take DefaultOptions (the values burgut's flags start from);
// a negative retry count means none, which 0 cannot say.
func TestOptionsDefaults(t *testing.T) {
	got := Options{}.withDefaults()
	got.Log = nil
	if want := DefaultOptions(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Options{}.withDefaults() = %+v, want DefaultOptions() %+v", got, want)
	}
	o := Options{CommandRetries: -1, MissionRetries: -1, ParamRetries: -1, CommandTimeout: 7}.withDefaults()
	if o.CommandRetries != 0 || o.MissionRetries != 0 || o.ParamRetries != 0 || o.CommandTimeout != 7 {
		t.Fatalf("negative retries: %+v, want 0 retries and the given timeout kept", o)
	}
}
