/** Robots registered by the app on one portal (protocol §7). */
export class RobotRegistry {}
