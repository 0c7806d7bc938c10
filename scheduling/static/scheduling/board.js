// The day board reloads itself on a timer (hx-trigger="every ..." on #board-live) so
// that check-ins, completions and misses recorded elsewhere show up. A reload replaces
// the sessions' blocks, so it waits while someone works in the board: keyboard focus
// inside it, an open "More" panel, one of its own requests under way, or the tab hidden.
document.addEventListener("htmx:beforeRequest", (event) => {
  const board = document.getElementById("board-live");
  if (!board || event.detail.elt !== board) {
    return;
  }
  const active = document.activeElement;
  const working =
    (active !== null && active !== document.body && board.contains(active)) ||
    board.querySelector("details[open]") !== null ||
    board.querySelector(".htmx-request") !== null;
  if (working || document.hidden) {
    event.preventDefault();
  }
});
