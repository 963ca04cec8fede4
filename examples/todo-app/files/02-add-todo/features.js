// add-todo: Enter in the input submits the form, which appends a todo.
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

form.addEventListener('submit', (event) => {
  event.preventDefault();
  if (addTodo(input.value)) input.value = '';
});

// baton:features
