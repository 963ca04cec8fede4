// Tally: a click counter. Plain JavaScript, no build step.
// `count` is the only state; render() copies it to the page. Feature code goes
// below the `baton:features` marker.
'use strict';

let count = 0;
const countEl = document.getElementById('count');

function render() {
  countEl.textContent = String(count);
}

// baton:features

render();
