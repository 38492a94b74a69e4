// KML import: an event area drawn in Google Earth (or exported by the
// station itself, GET /api/v1/areas/{id}?format=kml) turned into the area
// GeoJSON the station's area API takes, so the planner stays the one
// validator. KML is XML; the parser here is a small one of our own rather
// than DOMParser so the same code runs under node:test without a DOM.

const KINDS = ["event-area", "no-fly", "launch", "rally", "poi", "route"];
const NUMERIC = new Set(["min_alt_m", "max_alt_m", "radius_m", "alt_m"]);

// parseXML reads an XML document into {name, attrs, children, text}
// elements (namespace prefixes dropped). Errors name the line.
export function parseXML(src) {
  let i = 0;
  const root = { name: "#document", attrs: {}, children: [], text: "" };
  const stack = [root];
  const line = (at) => src.slice(0, at).split("\n").length;
  const fail = (msg, at = i) => {
    throw new Error(`line ${line(at)}: ${msg}`);
  };
  const local = (n) => n.slice(n.indexOf(":") + 1);
  while (i < src.length) {
    const lt = src.indexOf("<", i);
    const top = stack[stack.length - 1];
    if (lt < 0) {
      if (src.slice(i).trim()) top.text += decode(src.slice(i), fail);
      break;
    }
    if (lt > i) top.text += decode(src.slice(i, lt), fail);
    i = lt;
    if (src.startsWith("<!--", i)) {
      const e = src.indexOf("-->", i + 4);
      if (e < 0) fail("comment not closed");
      i = e + 3;
    } else if (src.startsWith("<![CDATA[", i)) {
      const e = src.indexOf("]]>", i + 9);
      if (e < 0) fail("CDATA not closed");
      top.text += src.slice(i + 9, e);
      i = e + 3;
    } else if (src.startsWith("<?", i) || src.startsWith("<!", i)) {
      const e = src.indexOf(">", i);
      if (e < 0) fail("declaration not closed");
      i = e + 1;
    } else if (src.startsWith("</", i)) {
      const e = src.indexOf(">", i);
      if (e < 0) fail("closing tag not closed");
      const name = local(src.slice(i + 2, e).trim());
      const open = stack.pop();
      if (stack.length === 0 || open.name !== name) fail(`</${name}> closes <${open.name}>`);
      i = e + 1;
    } else {
      const m = /^<([A-Za-z_][\w.:-]*)((?:\s+[\w.:-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/.exec(src.slice(i, i + 4096));
      if (!m) fail("malformed tag");
      const el = { name: local(m[1]), attrs: {}, children: [], text: "" };
      for (const a of m[2].matchAll(/([\w.:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) el.attrs[local(a[1])] = decode(a[2] ?? a[3], fail);
      top.children.push(el);
      if (!m[3]) stack.push(el);
      i += m[0].length;
    }
  }
  if (stack.length > 1) fail(`<${stack[stack.length - 1].name}> is not closed`, src.length);
  return root;
}

function decode(s, fail) {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|\w+);/g, (all, e) => {
    if (e[0] === "#") return String.fromCodePoint(e[1] === "x" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    const named = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" }[e];
    if (named === undefined) fail(`unknown entity ${all}`);
    return named;
  });
}

const kids = (el, name) => el.children.filter((c) => c.name === name);
const kid = (el, name) => el.children.find((c) => c.name === name);
const textOf = (el) => (el ? el.text + el.children.map(textOf).join("") : "").trim();
function* walk(el, name) {
  for (const c of el.children) {
    if (c.name === name) yield c;
    else yield* walk(c, name);
  }
}

// kmlToArea turns a KML file into the station's area GeoJSON (as text,
// the body POST /api/v1/areas takes). Each Placemark becomes one feature;
// its kind comes from ExtendedData (Data or SimpleData named "kind"), or a
// description that starts with a kind (the station's own KML export
// writes just the kind), or a name or style URL saying no-fly; otherwise a
// Polygon is the event area and a LineString a route. Other ExtendedData fields (min_alt_m,
// max_alt_m, starts, ends, radius_m, alt_m) become properties. Errors
// name the placemark.
export function kmlToArea(text, fileName = "file") {
  let doc;
  try {
    doc = parseXML(text);
  } catch (e) {
    throw new Error(`${fileName}: not readable KML (${e.message})`);
  }
  const kml = kid(doc, "kml");
  if (!kml) throw new Error(`${fileName}: not KML (no <kml> element)`);
  // The station's own export puts the altitude band in the document's
  // description: "altitude 30–100 m".
  const band = /altitude\s+(-?[\d.]+)\s*[–-]\s*(-?[\d.]+)\s*m/.exec(textOf(kid(kid(kml, "Document") || kml, "description")));
  const features = [];
  let n = 0;
  for (const pm of walk(kml, "Placemark")) {
    n++;
    const name = textOf(kid(pm, "name")) || `placemark ${n}`;
    const where = `${fileName}: placemark "${name}"`;
    const props = { name };
    const ext = kid(pm, "ExtendedData");
    if (ext) {
      for (const d of [...walk(ext, "Data"), ...walk(ext, "SimpleData")]) {
        const k = d.attrs.name;
        if (!k) continue;
        const v = d.name === "Data" ? textOf(kid(d, "value")) : textOf(d);
        if (NUMERIC.has(k)) {
          const x = Number(v);
          if (v === "" || !Number.isFinite(x)) throw new Error(`${where}: ${k} "${v}" is not a number`);
          props[k] = x;
        } else props[k] = v;
      }
    }
    // A description that starts with a kind ("no-fly", "launch: the van")
    // says it, as can a name or style that says no-fly (all Google Earth
    // lets a user type without editing the file).
    const desc = /^\s*([a-z-]+)/i.exec(textOf(kid(pm, "description")))?.[1].toLowerCase();
    if (!props.kind && KINDS.includes(desc)) props.kind = desc;
    if (!props.kind && (/no[- ]?fly/i.test(textOf(kid(pm, "styleUrl"))) || /\bno[- ]?fly\b/i.test(name))) props.kind = "no-fly";
    if (props.kind && !KINDS.includes(props.kind)) throw new Error(`${where}: kind "${props.kind}": want one of ${KINDS.join(", ")}`);
    const geoms = geometriesOf(pm, where);
    if (!geoms.length) throw new Error(`${where}: no geometry (want a Polygon, Point or LineString)`);
    const polys = geoms.filter((g) => g.type === "Polygon");
    // A MultiGeometry of polygons is one MultiPolygon feature; anything
    // else it holds becomes features of their own.
    const parts = polys.length > 1 ? [{ type: "MultiPolygon", coordinates: polys.map((p) => p.coordinates) }, ...geoms.filter((g) => g.type !== "Polygon")] : geoms;
    for (const g of parts) {
      const p = { ...props };
      if (!p.kind) {
        if (g.type === "Polygon" || g.type === "MultiPolygon") p.kind = "event-area";
        else if (g.type === "LineString") p.kind = "route";
        else throw new Error(`${where}: a Point needs a kind (launch, rally, poi, or no-fly with radius_m) in its description or ExtendedData`);
      }
      if (p.kind === "event-area" && band) {
        if (p.min_alt_m === undefined) p.min_alt_m = Number(band[1]);
        if (p.max_alt_m === undefined) p.max_alt_m = Number(band[2]);
      }
      features.push({ type: "Feature", properties: p, geometry: g });
    }
  }
  if (!features.length) throw new Error(`${fileName}: no Placemark in the KML`);
  return JSON.stringify({ type: "FeatureCollection", name: textOf(kid(kid(kml, "Document") || kml, "name")) || fileName, features });
}

function geometriesOf(el, where) {
  const out = [];
  for (const c of el.children) {
    if (c.name === "Polygon") {
      const outer = kid(c, "outerBoundaryIs");
      if (!outer) throw new Error(`${where}: Polygon without outerBoundaryIs`);
      const rings = [ringOf(outer, `${where} outer boundary`)];
      kids(c, "innerBoundaryIs").forEach((ib, k) => rings.push(ringOf(ib, `${where} inner boundary ${k + 1}`)));
      out.push({ type: "Polygon", coordinates: rings });
    } else if (c.name === "Point") {
      const cs = coords(kid(c, "coordinates"), `${where} Point`);
      if (cs.length !== 1) throw new Error(`${where} Point: ${cs.length} coordinates, want 1`);
      out.push({ type: "Point", coordinates: cs[0] });
    } else if (c.name === "LineString") {
      out.push({ type: "LineString", coordinates: coords(kid(c, "coordinates"), `${where} LineString`) });
    } else if (c.name === "MultiGeometry") {
      out.push(...geometriesOf(c, where));
    }
  }
  return out;
}

function ringOf(boundary, where) {
  const lr = kid(boundary, "LinearRing");
  if (!lr) throw new Error(`${where}: no LinearRing`);
  return coords(kid(lr, "coordinates"), where);
}

// coords reads "lon,lat[,alt] lon,lat[,alt] …" into [lon, lat] pairs
// (KML altitudes are dropped: the area's band is in metres above launch).
function coords(el, where) {
  if (!el) throw new Error(`${where}: no coordinates`);
  const t = textOf(el);
  if (!t) throw new Error(`${where}: empty coordinates`);
  return t.split(/\s+/).map((tuple, k) => {
    const p = tuple.split(",").map(Number);
    if (p.length < 2 || p.length > 3 || p.some((x) => !Number.isFinite(x))) throw new Error(`${where}: coordinate ${k} "${tuple}": want lon,lat[,alt]`);
    return [p[0], p[1]];
  });
}
