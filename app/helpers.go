package app

import (
	"net/http"

	"github.com/burgut-uav/burgut/httpapi"
)

func writeJSON(w http.ResponseWriter, v any) { httpapi.WriteJSON(w, http.StatusOK, v) }
