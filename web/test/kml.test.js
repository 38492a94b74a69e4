import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { kmlToArea, parseXML } from "../src/lib/kml.js";

// The station's own KML export of missions/testdata/synthetic-l.geojson
// (Area.WriteKML) reads back into the same kinds of features.
test("the station's KML export reads back as an area", () => {
  const fc = JSON.parse(kmlToArea(readFileSync(new URL("../testdata/synthetic-l.kml", import.meta.url), "utf8"), "synthetic-l.kml"));
  const kinds = fc.features.map((f) => `${f.properties.kind}:${f.properties.name}`);
  assert.deepEqual(kinds.slice(0, 3), ["event-area:Synthetic L with a hole", "no-fly:Tent", "no-fly:Crane"]);
  assert.ok(kinds.includes("launch:Pad outside the corner") && kinds.includes("route:Parade"), kinds.join(" "));
  const area = fc.features[0];
  assert.equal(area.geometry.type, "Polygon");
  assert.equal(area.geometry.coordinates.length, 2); // outer boundary and one hole
  assert.deepEqual(area.geometry.coordinates[0][0], [69.3, 41.35]); // lon, lat; KML altitude dropped
  assert.equal(area.properties.min_alt_m, 30); // from the document's "altitude 30–100 m"
  assert.equal(area.properties.max_alt_m, 100);
  assert.equal(fc.name, "Synthetic L with a hole");
});

const doc = (body) => `<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>${body}</Document></kml>`;
const square = (x, y, d) => `${x},${y},0 ${x + d},${y},0 ${x + d},${y + d},0 ${x},${y + d},0 ${x},${y},0`;
const poly = (outer, ...inner) =>
  `<Polygon><outerBoundaryIs><LinearRing><coordinates>${outer}</coordinates></LinearRing></outerBoundaryIs>${inner.map((r) => `<innerBoundaryIs><LinearRing><coordinates>${r}</coordinates></LinearRing></innerBoundaryIs>`).join("")}</Polygon>`;

test("polygons with several inner boundaries, multiple placemarks in folders, ExtendedData kinds and numbers", () => {
  const k = doc(`
    <Folder><name>zones</name>
      <Placemark><name>Park &amp; lake</name>
        <ExtendedData><Data name="starts"><value>2027-05-01T10:00:00Z</value></Data><Data name="max_alt_m"><value>90</value></Data></ExtendedData>
        ${poly(square(69, 41, 0.01), square(69.001, 41.001, 0.001), square(69.005, 41.005, 0.001))}
      </Placemark>
      <!-- a comment -->
      <Placemark><name>Crane</name><ExtendedData><SchemaData><SimpleData name="kind">no-fly</SimpleData><SimpleData name="radius_m">25</SimpleData></SchemaData></ExtendedData>
        <Point><coordinates> 69.007,41.007,0 </coordinates></Point></Placemark>
    </Folder>
    <Placemark><name><![CDATA[Pad <A>]]></name><description>launch</description><Point><coordinates>69.0,40.999</coordinates></Point></Placemark>
    <Placemark><name>Two fields</name><MultiGeometry>${poly(square(70, 41, 0.01))}${poly(square(70.02, 41, 0.01))}</MultiGeometry></Placemark>`);
  const fc = JSON.parse(kmlToArea(k, "zones.kml"));
  assert.equal(fc.features.length, 4);
  const [park, crane, pad, fields] = fc.features;
  assert.deepEqual(park.properties, { name: "Park & lake", kind: "event-area", starts: "2027-05-01T10:00:00Z", max_alt_m: 90 });
  assert.equal(park.geometry.coordinates.length, 3);
  assert.deepEqual(park.geometry.coordinates[2][0], [69.005, 41.005]);
  assert.deepEqual(crane.properties, { name: "Crane", kind: "no-fly", radius_m: 25 });
  assert.deepEqual(crane.geometry, { type: "Point", coordinates: [69.007, 41.007] });
  assert.deepEqual(pad.properties, { name: "Pad <A>", kind: "launch" });
  assert.equal(fields.geometry.type, "MultiPolygon");
  assert.equal(fields.geometry.coordinates.length, 2);
});

test("kinds as a Google Earth user can type them: description's first word, a no-fly name", () => {
  const k = doc(`
    <Placemark><name>Stadium</name>${poly(square(69, 41, 0.01))}</Placemark>
    <Placemark><name>Stage (no fly)</name>${poly(square(69.002, 41.002, 0.001))}</Placemark>
    <Placemark><name>Crane zone</name><description>No-fly: the crane swings here</description>${poly(square(69.005, 41.005, 0.001))}</Placemark>
    <Placemark><name>Van</name><description>launch — park here</description><Point><coordinates>69,40.999</coordinates></Point></Placemark>
    <Placemark><name>Flyover</name><description>nofly is not a kind</description>${poly(square(69.007, 41.007, 0.001))}</Placemark>`);
  const kinds = JSON.parse(kmlToArea(k, "ge.kml")).features.map((f) => `${f.properties.name}:${f.properties.kind}`);
  assert.deepEqual(kinds, ["Stadium:event-area", "Stage (no fly):no-fly", "Crane zone:no-fly", "Van:launch", "Flyover:event-area"]);
});

test("errors name the file and the placemark", () => {
  const cases = [
    [doc(`<Placemark><name>Tent</name>${poly("69,41 69.1,41 oops")}</Placemark>`), /tent\.kml: placemark "Tent" outer boundary: coordinate 2 "oops": want lon,lat\[,alt\]/],
    [doc(`<Placemark><name>Gate</name><Point><coordinates>69,41</coordinates></Point></Placemark>`), /placemark "Gate": a Point needs a kind/],
    [doc(`<Placemark><name>Odd</name><description>stadium</description><ExtendedData><Data name="kind"><value>stage</value></Data></ExtendedData>${poly(square(69, 41, 0.01))}</Placemark>`), /placemark "Odd": kind "stage": want one of/],
    [doc(`<Placemark><name>Empty</name></Placemark>`), /placemark "Empty": no geometry/],
    [doc(`<Placemark><name>Hole</name><Polygon><innerBoundaryIs/></Polygon></Placemark>`), /placemark "Hole": Polygon without outerBoundaryIs/],
    [doc(`<Placemark><name>R</name><ExtendedData><Data name="radius_m"><value>big</value></Data></ExtendedData><Point><coordinates>69,41</coordinates></Point></Placemark>`), /placemark "R": radius_m "big" is not a number/],
    [doc(`<Placemark>${poly(square(69, 41, 0.01), "")}</Placemark>`), /placemark "placemark 1" inner boundary 1: empty coordinates/],
    [doc(""), /x\.kml: no Placemark/],
    [`{"type":"FeatureCollection"}`, /x\.kml: not KML/],
    [`<kml><Document>\n<Placemark>\n</Document></kml>`, /x\.kml: not readable KML \(line 3: <\/Document> closes <Placemark>\)/],
  ];
  for (const [src, want] of cases) {
    const name = want.source.startsWith("tent") ? "tent.kml" : "x.kml";
    assert.throws(() => kmlToArea(src, name), want);
  }
});

test("the XML reader keeps nesting, attributes and entities", () => {
  const d = parseXML(`<a x="1" y='&lt;2&gt;'><b>t&#65;&#x42;</b><c/></a>`);
  const a = d.children[0];
  assert.deepEqual(a.attrs, { x: "1", y: "<2>" });
  assert.equal(a.children[0].text, "tAB");
  assert.equal(a.children[1].name, "c");
  assert.throws(() => parseXML("<a><b></a>"), /line 1: <\/a> closes <b>/);
  assert.throws(() => parseXML("<a>"), /<a> is not closed/);
});
