// clear-completed: one button deletes every done item; it is only shown while there is one.
const clearCompletedButton = document.getElementById('clear-completed');

function renderClearCompleted() {
  clearCompletedButton.hidden = !todos.some((t) => t.done);
}

clearCompletedButton.addEventListener('click', () => {
  todos = todos.filter((t) => !t.done);
  changed();
});

// baton:features
