// Keyboard movement in the console's lists (vehicles, operations,
// parameters, alerts): the arrow keys, Home and End move the focus between
// a list's items, whose own Enter/Space handlers act on them. One listener
// per list, so items re-rendered by the stream need no wiring.
export function listKeys(ul) {
  ul.addEventListener("keydown", (ev) => {
    if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
    const items = [...ul.children].filter((li) => li.tabIndex >= 0 && !li.hidden);
    const i = items.indexOf(ev.target);
    if (i < 0) return;
    const to = { ArrowDown: i + 1, ArrowUp: i - 1, Home: 0, End: items.length - 1 }[ev.key];
    if (to === undefined || to < 0 || to >= items.length) return;
    ev.preventDefault();
    items[to].focus();
    items[to].scrollIntoView({ block: "nearest" });
  });
}
