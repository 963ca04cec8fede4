// items-left-counter: "0 items left", "1 item left", "2 items left" (done items don't count).
const todoCount = document.getElementById('todo-count');

function renderCount() {
  const left = todos.filter((t) => !t.done).length;
  todoCount.textContent = `${left} ${left === 1 ? 'item' : 'items'} left`;
}

// baton:features
