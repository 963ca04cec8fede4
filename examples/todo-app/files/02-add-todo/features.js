// add-todo: Enter in the input appends a todo to the end of the list.
// Blank (or whitespace-only) input is ignored and left in the box.
function addTodo(text) {
  const title = text.trim();
  if (!title) return false;
  todos.push({ id: newId(), title, done: false });
  changed();
  return true;
}

function newId() {
  return Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
}

function submitNewTodo() {
  if (addTodo(input.value)) input.value = '';
}

// Enter is handled on keydown, and the browser's implicit form submit it would trigger
// is prevented, so one key press adds exactly one item. The submit handler covers the
// other ways a form gets submitted (e.g. a phone keyboard's "Go" button).
input.addEventListener('keydown', (event) => {
  if (event.key !== 'Enter' || event.isComposing) return;
  event.preventDefault();
  submitNewTodo();
});

form.addEventListener('submit', (event) => {
  event.preventDefault();
  submitNewTodo();
});

// baton:features
