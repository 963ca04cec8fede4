// Todos: a single-page todo list. Plain JavaScript, no build step.
//
// The whole UI is drawn from `todos` by render(); every change goes through
// changed(), which redraws (and, later, saves). Feature code lives below the
// `baton:features` marker, one block per feature.
'use strict';

/** @type {{id: string, title: string, done: boolean}[]} */
let todos = [];

const form = document.getElementById('new-todo-form');
const input = document.getElementById('new-todo');
const list = document.getElementById('todo-list');

function changed() {
  // baton:on-change
  render();
}

function isVisible(todo) {
  return true;
}

function renderItem(todo) {
  const li = document.createElement('li');
  li.dataset.id = todo.id;
  const title = document.createElement('span');
  title.className = 'title';
  title.textContent = todo.title;
  li.append(title);
  // baton:item
  return li;
}

function render() {
  list.replaceChildren(...todos.filter(isVisible).map(renderItem));
  // baton:render
}

// baton:features

render();
